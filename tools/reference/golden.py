"""Recompute the mini model's reference perplexities with transformers.

    python3 tools/reference/golden.py [--model models/nemotron-h-mini] [--seq-len 1024 512]

Loads NemotronHForCausalLM in float32 from the bf16 checkpoint (TF32 off),
evaluates the WikiText-2 test split under the reference protocol and prints
JSON. The expected values (golden.json) are 157.4956 at 1024, 159.9367 at 512.
"""
import argparse
import json
import os

import torch
from transformers import NemotronHForCausalLM

from protocol import perplexity, protocol_text, setup_torch, token_ids

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=os.path.join(ROOT, "models/nemotron-h-mini"))
    ap.add_argument("--text", default=os.path.join(ROOT, "datasets/wikitext-2-raw/wiki.test.raw"))
    ap.add_argument("--seq-len", type=int, nargs="+", default=[1024, 512])
    ap.add_argument("--max-windows", type=int, default=0)
    a = ap.parse_args()
    setup_torch()
    model = NemotronHForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32).cuda().eval()
    ids = token_ids(os.path.join(a.model, "tokenizer.json"), protocol_text(a.text))
    out = {"model": a.model, "transformers": __import__("transformers").__version__, "torch": torch.__version__, "results": []}
    for s in a.seq_len:
        out["results"].append(perplexity(model, ids, s, a.max_windows))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
