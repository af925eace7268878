"""The WikiText-2 perplexity protocol of ../../shared/README.md, in PyTorch.

Every line of wiki.test.raw (with its newline) is a row; whitespace-only rows
become empty strings; rows are joined with "\\n\\n"; the text is tokenised
without BOS; non-overlapping windows of seq_len tokens (the tail is dropped);
ppl = exp(mean over windows of the window's mean next-token loss).
"""
import math

import torch
import torch.nn.functional as F
from transformers import PreTrainedTokenizerFast


def protocol_text(path):
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    rows = raw.split("\n")
    lines = [r + "\n" for r in rows[:-1]] + ([rows[-1]] if rows[-1] else [])
    return "\n\n".join("" if l.strip() == "" else l for l in lines)


def token_ids(tokenizer_json, text):
    tok = PreTrainedTokenizerFast(tokenizer_file=tokenizer_json)
    return tok(text, add_special_tokens=False)["input_ids"]


@torch.no_grad()
def perplexity(model, ids, seq_len, max_windows=0, device="cuda"):
    n = len(ids) // seq_len
    if max_windows:
        n = min(n, max_windows)
    losses = []
    for w in range(n):
        x = torch.tensor(ids[w * seq_len:(w + 1) * seq_len], device=device)[None]
        logits = model(input_ids=x).logits.float()
        loss = F.cross_entropy(logits[0, :-1], x[0, 1:], reduction="mean")
        losses.append(loss.item())
    mean = sum(losses) / len(losses)
    return {"ppl": math.exp(mean), "mean_nll": mean, "windows": n, "seq_len": seq_len, "tokens": len(ids)}


def setup_torch():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_grad_enabled(False)
