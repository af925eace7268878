#!/usr/bin/env python3
"""Write the legacy-quantiser fixtures of package kernels/ggml.

From the bf16 GGUF, the importance-matrix GGUF and the files that
llama-quantize --pure wrote from them (plain and with --imatrix) for Q8_0,
Q4_0, Q4_1, Q5_0, Q5_1 and IQ4_NL, it takes a few whole rows of two
tensors and writes, under testdata/quant/:

  legacy.in.f32               the rows as float32 (bf16 widened exactly),
                              in the order of ROWS below
  legacy.imatrix.f32          the per-column importance weights
                              llama-quantize used, for each tensor of ROWS
                              in order (one value per column)
  legacy.in_sum2.f32          the imatrix GGUF's raw <tensor>.in_sum2 and
  legacy.counts.f32           <tensor>.counts for those tensors, in order
                              (to test the Go reader, ImatrixFromGGUF)
  <type>.plain.blocks.bin     the blocks llama-quantize wrote for those
  <type>.imatrix.blocks.bin   rows, same order, without / with the imatrix

All little-endian. It only reads GGUF files (gguf-py and numpy); it
quantises nothing. See README-quant-legacy.md.

    PYTHONPATH=/work/llama/gguf-py python3 make_quant_fixtures_legacy.py \
        --bf16 /work/shared/reference/nemotron-h-mini.bf16.gguf \
        --imatrix /work/llama-out/frontier/imatrix-wt103-full.gguf \
        --quantized /work/llama-out/quant-legacy \
        --out kernels/ggml/testdata/quant
"""

import argparse
import os
import sys

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

# (tensor, rows): whole rows, spread over the tensor.
ROWS = [
    ("blk.0.ssm_in.weight", [0, 1, 777, 1543]),  # 256 values a row
    ("blk.1.ffn_down.weight", [0, 255]),  # 1280 values a row
]

# llama-quantize type argument -> (ggml type, fixture name)
TYPES = {
    "Q8_0": (T.Q8_0, "q8_0"),
    "Q4_0": (T.Q4_0, "q4_0"),
    "Q4_1": (T.Q4_1, "q4_1"),
    "Q5_0": (T.Q5_0, "q5_0"),
    "Q5_1": (T.Q5_1, "q5_1"),
    "IQ4_NL": (T.IQ4_NL, "iq4_nl"),
}


def tensor(reader, name):
    for t in reader.tensors:
        if t.name == name:
            return t
    sys.exit(f"{name}: not in the file")


def bf16_rows(reader, name, rows):
    t = tensor(reader, name)
    if t.tensor_type != T.BF16:
        sys.exit(f"{name}: type {t.tensor_type.name}, expected BF16")
    raw = np.ascontiguousarray(t.data).view(np.uint16).reshape(len(t.data), -1)
    bits = raw[rows].astype(np.uint32) << 16
    return bits.view(np.float32)


def imatrix_weights(reader, name):
    """The per-column weights llama-quantize takes for a tensor: the GGUF
    imatrix holds <name>.in_sum2 (sums of squared activations, ne0 per
    expert) and <name>.counts (one count per expert, float32); the loader
    rounds each count to an integer (lround) and llama-quantize divides the
    sums by it in float32, or uses 1 where the count is 0."""
    sums = np.asarray(tensor(reader, name + ".in_sum2").data, dtype=np.float32).ravel()
    counts = np.asarray(tensor(reader, name + ".counts").data, dtype=np.float32).ravel()
    ne0 = len(sums) // len(counts)
    out = np.empty_like(sums)
    for j, c in enumerate(counts):
        n = np.float32(np.sign(c) * np.floor(abs(np.float64(c)) + 0.5))  # lround
        part = slice(j * ne0, (j + 1) * ne0)
        if n > 0:
            out[part] = sums[part] / n  # float32 / float32, as the C++ does
        else:
            out[part] = np.float32(1)
    return out


def quant_rows(reader, name, rows, qtype):
    t = tensor(reader, name)
    if t.tensor_type != qtype:
        sys.exit(f"{name}: type {t.tensor_type.name}, expected {qtype.name}")
    ne0 = int(t.shape[0])
    bs, bb = GGML_QUANT_SIZES[qtype]
    data = np.ascontiguousarray(t.data).view(np.uint8).reshape(len(t.data), -1)
    assert data.shape[1] == ne0 // bs * bb
    return data[rows]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bf16", required=True)
    ap.add_argument("--imatrix", required=True)
    ap.add_argument("--quantized", required=True, help="folder of plain-<TYPE>.gguf and imat-<TYPE>.gguf")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    src = GGUFReader(a.bf16)
    x = np.concatenate([bf16_rows(src, n, r).ravel() for n, r in ROWS])
    x.astype("<f4").tofile(os.path.join(a.out, "legacy.in.f32"))

    im = GGUFReader(a.imatrix)
    w = np.concatenate([imatrix_weights(im, n) for n, _ in ROWS])
    w.astype("<f4").tofile(os.path.join(a.out, "legacy.imatrix.f32"))
    for suffix in ("in_sum2", "counts"):
        raw = [np.asarray(tensor(im, f"{n}.{suffix}").data, dtype=np.float32).ravel() for n, _ in ROWS]
        np.concatenate(raw).astype("<f4").tofile(os.path.join(a.out, f"legacy.{suffix}.f32"))
    print(f"legacy.in.f32: {len(x)} values; legacy.imatrix.f32: {len(w)} values")

    for arg, (qtype, fname) in TYPES.items():
        for mode, prefix in (("plain", "plain"), ("imatrix", "imat")):
            r = GGUFReader(os.path.join(a.quantized, f"{prefix}-{arg}.gguf"))
            if mode == "imatrix" and "quantize.imatrix.file" not in r.fields:
                sys.exit(f"{prefix}-{arg}.gguf: no quantize.imatrix.file key")
            b = np.concatenate([quant_rows(r, n, rows, qtype).ravel() for n, rows in ROWS])
            path = os.path.join(a.out, f"{fname}.{mode}.blocks.bin")
            b.tofile(path)
            print(f"{os.path.basename(path)}: {len(b)} bytes")


if __name__ == "__main__":
    main()
