"""Evaluate llama.cpp GGUF files of the mini with transformers, through
llama.cpp's own Python dequantizers (gguf-py), sharing no code with hyquant.

    PYTHONPATH=path/to/llama.cpp/gguf-py python3 tools/reference/eval_gguf.py FILE.gguf [...] [--seq-len 1024]

For each nemotron_h GGUF it reads every tensor with gguf.GGUFReader,
dequantizes it with gguf.quants.dequantize, undoes the converter's changes
(A = -exp(A_log) back to A_log = log(-A), conv1d [C, K] back to [C, 1, K],
ssm_norm [groups, C/groups] flattened, the rope permutation of attn_q/attn_k
rows undone), loads the float32 weights into NemotronHForCausalLM (TF32 off)
and prints the WikiText-2 perplexity under the reference protocol as JSON.
Comparing it with `hyquant eval --model FILE.gguf` checks hyquant's GGUF
reader, its block formats and its runtime on packed blocks.
"""
import argparse
import json
import os
import re

import numpy as np
import torch
from gguf import GGUFReader
from gguf.quants import dequantize
from transformers import NemotronHForCausalLM

from protocol import perplexity, protocol_text, setup_torch, token_ids

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")

MIXER = {"ssm_in": "in_proj", "ssm_out": "out_proj", "ssm_conv1d": "conv1d", "ssm_norm": "norm",
         "ffn_up": "up_proj", "ffn_down": "down_proj",
         "attn_q": "q_proj", "attn_k": "k_proj", "attn_v": "v_proj", "attn_output": "o_proj"}


def field(r, key):
    return r.fields[key].contents()


def unpermute(w, n_head):
    """Inverse of the converter's w.reshape(n, 2, d/2, ...).swapaxes(1, 2)."""
    rows = w.shape[0]
    return w.reshape(n_head, rows // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def hub_state_dict(path):
    r = GGUFReader(path)
    heads = field(r, "nemotron_h.attention.head_count")
    kv = field(r, "nemotron_h.attention.head_count_kv")
    sd = {}
    for t in r.tensors:
        w = dequantize(t.data, t.tensor_type).astype(np.float32)
        shape = tuple(int(d) for d in reversed(t.shape))  # ggml dims are fastest-first
        w = w.reshape(shape)
        name = t.name
        if name == "token_embd.weight":
            sd["backbone.embeddings.weight"] = w
            continue
        if name == "output_norm.weight":
            sd["backbone.norm_f.weight"] = w
            continue
        if name == "output.weight":
            sd["lm_head.weight"] = w
            continue
        m = re.fullmatch(r"blk\.(\d+)\.(.+)", name)
        layer, rest = int(m.group(1)), m.group(2)
        p = f"backbone.layers.{layer}."
        if rest == "attn_norm.weight":
            sd[p + "norm.weight"] = w
        elif rest == "ssm_a":
            sd[p + "mixer.A_log"] = np.log(-w.astype(np.float64)).astype(np.float32).reshape(-1)
        elif rest == "ssm_d":
            sd[p + "mixer.D"] = w.reshape(-1)
        elif rest == "ssm_dt.bias":
            sd[p + "mixer.dt_bias"] = w.reshape(-1)
        else:
            mod, suffix = rest.split(".", 1)
            if mod == "ssm_conv1d" and suffix == "weight":
                w = w.reshape(w.shape[0], 1, w.shape[1])
            elif mod == "ssm_norm":
                w = w.reshape(-1)
            elif mod == "attn_q":
                w = unpermute(w, heads)
            elif mod == "attn_k":
                w = unpermute(w, kv[layer])
            sd[p + "mixer." + MIXER[mod] + "." + suffix] = w
    types = sorted({t.tensor_type.name for t in r.tensors})
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}, types


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--text", default=os.path.join(ROOT, "datasets/wikitext-2-raw/wiki.test.raw"))
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--max-windows", type=int, default=0)
    ap.add_argument("--base", default=os.path.join(ROOT, "models/nemotron-h-mini"),
                    help="the float model the files were converted from; its module structure is reused and every weight replaced")
    a = ap.parse_args()
    setup_torch()
    ids = token_ids(os.path.join(a.base, "tokenizer.json"), protocol_text(a.text))
    out = []
    for f in a.files:
        sd, types = hub_state_dict(f)
        model = NemotronHForCausalLM.from_pretrained(a.base, torch_dtype=torch.float32)
        own = model.state_dict().keys()
        sd = {(k if k in own else "model." + k.removeprefix("backbone.")): v for k, v in sd.items()}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        if missing or unexpected:
            raise SystemExit(f"{f}: missing {missing}, unexpected {unexpected}")
        model = model.cuda().eval()
        res = perplexity(model, ids, a.seq_len, a.max_windows)
        res.update({"file": os.path.basename(f), "ggml_types": types})
        out.append(res)
        print(json.dumps(res), flush=True)
    print(json.dumps({"results": out}, indent=1))


if __name__ == "__main__":
    main()
