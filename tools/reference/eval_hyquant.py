"""Evaluate a hyquant quantised checkpoint with transformers, through an
independent decoder of hyquant's packed format.

    python3 tools/reference/eval_hyquant.py DIR [DIR ...] [--seq-len 1024] [--max-windows 0]

For each directory written by `hyquant quantize` it reads hyquant_quant.json
and the safetensors, decodes every stored tensor with numpy (bit-stream codes,
scales, zero points, Hadamard/KLT transforms, smoothing), folds each input
transform into an effective float32 weight W_eff = Q·T (so W_eff·x = Q·T(x)),
loads the result into NemotronHForCausalLM (float32, TF32 off) and prints the
WikiText-2 perplexity as JSON. Comparing it with `hyquant eval --model DIR`
checks hyquant's format and its runtime on packed weights against transformers.
Checkpoints with activation quantisation cannot be expressed as float weights
and are refused.
"""
import argparse
import json
import os

import numpy as np
import torch
from safetensors.torch import load_file
from transformers import NemotronHForCausalLM

from protocol import perplexity, protocol_text, setup_torch, token_ids

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def load_tensors(d):
    """All tensors of a directory as numpy arrays (floats widened to float32)."""
    out = {}
    for f in sorted(os.listdir(d)):
        if f.endswith(".safetensors"):
            for k, v in load_file(os.path.join(d, f)).items():
                out[k] = v.float().numpy() if v.is_floating_point() else v.numpy()
    return out


def unpack_codes(packed, rows, cols, bits):
    """Each row: a little-endian, LSB-first bit stream of cols codes."""
    bitarr = np.unpackbits(packed.reshape(rows, -1), axis=1, bitorder="little")[:, : cols * bits]
    bitarr = bitarr.reshape(rows, cols, bits).astype(np.uint32)
    return (bitarr << np.arange(bits, dtype=np.uint32)).sum(axis=2)


def hadamard(n):
    h = np.array([[1.0]])
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h / np.sqrt(n)


def block_size(n):
    return n & -n


def dequantize(t, tensors):
    name, rows = t["name"], t["shape"][0] if len(t["shape"]) > 1 else 1
    numel = int(np.prod(t["shape"]))
    cols, bits = numel // rows, t["bits"]
    g = t["granularity"]
    sr = 1 if g == "tensor" else rows
    groups = 1 if g in ("tensor", "channel") else cols // int(g.split(":")[1])
    codes = unpack_codes(tensors[name + ".codes"], rows, cols, bits).astype(np.float64)
    scales = tensors[name + ".scales"].reshape(sr, groups).astype(np.float64)
    if t.get("symmetric"):
        zeros = np.full((sr, groups), 2 ** (bits - 1), dtype=np.float64)
    else:
        zeros = unpack_codes(tensors[name + ".zeros"], sr, groups, bits).astype(np.float64)
    # Broadcast each scale over its group of columns (and rows for per-tensor).
    rep = cols // groups
    s = np.repeat(np.repeat(scales, rep, axis=1), rows // sr, axis=0)
    z = np.repeat(np.repeat(zeros, rep, axis=1), rows // sr, axis=0)
    w = (s.astype(np.float32) * (codes - z).astype(np.float32)).astype(np.float32)
    kind = t.get("transform", "")
    if kind:
        inv_s = np.ones(cols)
        if t.get("smooth", 0) > 0:
            inv_s = 1.0 / tensors[name + ".smooth"].astype(np.float64)
        if kind == "hadamard":
            signs = tensors[name + ".rotation_signs"].astype(np.float64)
            b = block_size(cols)
            hb = np.kron(np.eye(cols // b), hadamard(b))
            m = hb * signs[None, :] * inv_s[None, :]
        else:
            r = tensors[name + ".rotation"].astype(np.float64).reshape(cols, cols)
            m = r * inv_s[None, :]
        w = (w.astype(np.float64) @ m).astype(np.float32)
    return w.reshape(t["shape"])


def state_dict(d):
    man = json.load(open(os.path.join(d, "hyquant_quant.json")))
    tensors = load_tensors(d)
    sd = {}
    for t in man["tensors"]:
        if t.get("act_bits"):
            raise SystemExit(f"{d}: {t['name']} has activation quantisation, which float weights cannot express")
        if t.get("keep"):
            sd[t["name"]] = torch.from_numpy(tensors[t["name"]].reshape(t["shape"]))
        else:
            sd[t["name"]] = torch.from_numpy(dequantize(t, tensors))
    return man, sd


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("--text", default=os.path.join(ROOT, "datasets/wikitext-2-raw/wiki.test.raw"))
    ap.add_argument("--seq-len", type=int, default=1024)
    ap.add_argument("--max-windows", type=int, default=0)
    ap.add_argument("--tokenizer", default="", help="tokenizer.json to use when a directory has none")
    ap.add_argument("--base", default=os.path.join(ROOT, "models/nemotron-h-mini"),
                    help="the float model the checkpoints were quantised from (same config.json); "
                         "its module structure is reused and every weight replaced")
    a = ap.parse_args()
    setup_torch()
    out = []
    for d in a.dirs:
        man, sd = state_dict(d)
        if json.load(open(os.path.join(d, "config.json"))) != json.load(open(os.path.join(a.base, "config.json"))):
            raise SystemExit(f"{d}: config.json differs from {a.base}'s")
        # from_pretrained, not NemotronHForCausalLM(config): this config's
        # time_step_min of 0 makes the random initialisation take log(0).
        model = NemotronHForCausalLM.from_pretrained(a.base, torch_dtype=torch.float32)
        # transformers 5 names the backbone "model" internally (it renames the
        # Hub's "backbone." keys while loading): follow its naming.
        own = model.state_dict().keys()
        sd = {(k if k in own else "model." + k.removeprefix("backbone.")): v for k, v in sd.items()}
        missing, unexpected = model.load_state_dict(sd, strict=False)
        if missing or unexpected:
            raise SystemExit(f"{d}: missing {missing}, unexpected {unexpected}")
        model = model.cuda().eval()
        tj = os.path.join(d, "tokenizer.json")
        if not os.path.exists(tj):
            tj = a.tokenizer or os.path.join(ROOT, "models/nemotron-h-mini/tokenizer.json")
        ids = token_ids(tj, protocol_text(a.text))
        r = perplexity(model, ids, a.seq_len, a.max_windows)
        r.update({"dir": d, "plan": man["plan"]})
        out.append(r)
        print(json.dumps(r), flush=True)
    print(json.dumps({"results": out}, indent=1))


if __name__ == "__main__":
    main()
