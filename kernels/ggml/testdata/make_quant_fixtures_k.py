#!/usr/bin/env python3
"""Fixtures for the K-quant and IQ4_XS quantisers (quant_k_test.go).

From the bf16 GGUF that llama-quantize read, the importance-matrix GGUF it
was given, and the files it wrote (one plain and one --imatrix file per
type, all --pure), this takes a few whole rows of a couple of tensors and
writes, under testdata/quantk/:

  manifest.json      the tensors, their row length and the rows taken,
                     and for each type the two block files
  input.f32          the rows as float32 (bf16 widened exactly), tensor
                     after tensor, row after row
  weights.f32        per tensor, the per-column importance weights
                     llama-quantize computes from the imatrix file
                     (in_sum2 / count, count = lround(counts), 1 where the
                     count is 0), tensor after tensor
  <type>.plain.bin   the blocks llama-quantize wrote for those rows
  <type>.imatrix.bin without and with the importance matrix

With --lib PATH/libggml-base.so it also writes edge-case fixtures, rows
that no model has (zeros, -0, constants, a lone spike, tiny and huge
values, one sign only, zero sub-blocks, zero importance weights),
quantised by llama.cpp's own ggml_quantize_chunk through ctypes, the
function llama-quantize calls:

  edge.f32                the 256-wide edge rows, as float32
  edge-weights.f32        one weight row per edge row
  <type>.edge.plain.bin   ggml_quantize_chunk without weights
  <type>.edge.imatrix.bin and with them (row r with weight row r)

All little-endian. Only gguf-py, numpy and the standard library are used;
see README-quant-k.md for the commands that made the GGUF files.
"""

import argparse
import ctypes
import json
import math
import os
import sys

import numpy as np
from gguf import GGUFReader

# (tensor, rows): a 256-wide tensor (one super-block a row) and a
# 1280-wide one (five), both in the imatrix.
TENSORS = [
    ("blk.0.ssm_in.weight", [0, 1, 2, 3]),
    ("blk.1.ffn_down.weight", [0, 1]),
]

# (ggml type name, llama-quantize ftype used for the --pure file)
TYPES = [
    ("q2_K", "Q2_K"),
    ("q3_K", "Q3_K_S"),
    ("q4_K", "Q4_K_S"),
    ("q5_K", "Q5_K_S"),
    ("q6_K", "Q6_K"),
    ("iq4_xs", "IQ4_XS"),
]


def tensor(reader, name):
    for t in reader.tensors:
        if t.name == name:
            return t
    sys.exit(f"{name}: not in {reader.path}")


def bf16_rows(reader, name, rows):
    t = tensor(reader, name)
    if t.tensor_type.name != "BF16":
        sys.exit(f"{name}: {t.tensor_type.name}, want BF16")
    u16 = np.asarray(t.data).view(np.uint16).reshape(int(t.shape[1]), int(t.shape[0]))
    out = (u16[rows].astype(np.uint32) << 16).view(np.float32)
    return out, int(t.shape[0])


def lround(v):
    # C's lround: halves away from zero.
    return int(math.copysign(math.floor(abs(v) + 0.5), v))


def imatrix_weights(reader, name, cols):
    # As llama-quantize's load_imatrix: e[j*ne0+i] = in_sum2 / (float)count_j
    # with count_j = lround(counts[j]) (common_imatrix_load), 1 if count_j <= 0.
    sums = np.asarray(tensor(reader, name + ".in_sum2").data, dtype=np.float32).reshape(-1)
    counts = np.asarray(tensor(reader, name + ".counts").data, dtype=np.float32).reshape(-1)
    ne0 = sums.size // counts.size
    out = np.empty_like(sums)
    for j, c in enumerate(counts):
        cnt = np.float32(lround(float(c)))
        if cnt > 0:
            out[j * ne0:(j + 1) * ne0] = sums[j * ne0:(j + 1) * ne0] / cnt
        else:
            out[j * ne0:(j + 1) * ne0] = np.float32(1)
    if out.size != cols:
        sys.exit(f"{name}: imatrix has {out.size} values for rows of {cols}")
    return out


# ggml type ids (ggml.h), for ggml_quantize_chunk.
GGML_TYPE_ID = {"q2_K": 10, "q3_K": 11, "q4_K": 12, "q5_K": 13, "q6_K": 14, "iq4_xs": 23}
BLOCK_BYTES = {"q2_K": 84, "q3_K": 110, "q4_K": 144, "q5_K": 176, "q6_K": 210, "iq4_xs": 136}


def edge_rows():
    """256-wide rows and a weight row for each: (name, x, w)."""
    rng = np.random.default_rng(7)
    n = 256
    g = (rng.standard_normal(n) * 0.02).astype(np.float32)
    wr = (rng.random(n) * 3 + 0.01).astype(np.float32)
    rows = []

    def add(name, x, w=wr):
        rows.append((name, np.asarray(x, dtype=np.float32), np.asarray(w, dtype=np.float32)))

    add("zeros", np.zeros(n))
    add("minus zeros", np.full(n, -0.0))
    add("constant 0.5", np.full(n, 0.5))
    add("constant -0.5", np.full(n, -0.5))
    spike = np.zeros(n); spike[77] = 1.0
    add("spike", spike)
    add("negative spike", -spike)
    add("tiny 1e-30", g * 1e-28)
    add("below eps 1e-17", g * 1e-15)
    add("huge 1e6", g * 5e7)
    add("all positive", np.abs(g) + 0.001)
    add("all negative", -np.abs(g) - 0.001)
    add("two levels", np.where(np.arange(n) % 2 == 0, 1.0, -1.0))
    zb = g.copy(); zb[32:64] = 0; zb[160:176] = 0
    add("zero sub-blocks", zb)
    add("integers", (np.arange(n) % 9 - 4).astype(np.float32) / 4)
    w0 = wr.copy(); w0[0:32] = 0
    add("gaussian, zero weights in block 0", g, w0)
    add("gaussian, all weights zero", g, np.zeros(n))
    add("gaussian, weights 1", g, np.ones(n))
    return rows


def edge_fixtures(lib_path, out):
    lib = ctypes.CDLL(lib_path)
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    rows = edge_rows()
    xs = np.stack([r[1] for r in rows]).astype("<f4")
    ws = np.stack([r[2] for r in rows]).astype("<f4")
    xs.tofile(os.path.join(out, "edge.f32"))
    ws.tofile(os.path.join(out, "edge-weights.f32"))
    names = [r[0] for r in rows]
    for tname, tid in GGML_TYPE_ID.items():
        for mode in ("plain", "imatrix"):
            blocks = []
            for i in range(len(rows)):
                x = np.ascontiguousarray(xs[i])
                w = np.ascontiguousarray(ws[i])
                dst = np.zeros(BLOCK_BYTES[tname], dtype=np.uint8)
                im = w.ctypes.data if mode == "imatrix" else None
                got = lib.ggml_quantize_chunk(tid, x.ctypes.data, dst.ctypes.data, 0, 1, x.size, im)
                if got != dst.size:
                    sys.exit(f"ggml_quantize_chunk({tname}) returned {got}, want {dst.size}")
                blocks.append(dst)
            np.concatenate(blocks).tofile(os.path.join(out, f"{tname}.edge.{mode}.bin"))
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default="/work/shared/reference/nemotron-h-mini.bf16.gguf")
    ap.add_argument("--imatrix", default="/work/llama-out/frontier/imatrix-wt103-full.gguf")
    ap.add_argument("--quant-dir", default="/work/llama-out/quant-k",
                    help="holds plain-<FTYPE>.gguf and imat-<FTYPE>.gguf")
    ap.add_argument("-o", "--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "quantk"))
    ap.add_argument("--lib", help="libggml-base.so: also write the edge-case fixtures through ggml_quantize_chunk")
    a = ap.parse_args()

    os.makedirs(a.out, exist_ok=True)
    src = GGUFReader(a.src)
    im = GGUFReader(a.imatrix)

    inputs, weights, manifest = [], [], {"tensors": [], "types": []}
    for name, rows in TENSORS:
        x, cols = bf16_rows(src, name, rows)
        inputs.append(x.reshape(-1))
        weights.append(imatrix_weights(im, name, cols))
        manifest["tensors"].append({"name": name, "cols": cols, "rows": rows})
    np.concatenate(inputs).astype("<f4").tofile(os.path.join(a.out, "input.f32"))
    np.concatenate(weights).astype("<f4").tofile(os.path.join(a.out, "weights.f32"))

    for tname, ftype in TYPES:
        entry = {"type": tname, "ftype": ftype}
        for mode, prefix in (("plain", "plain"), ("imatrix", "imat")):
            q = GGUFReader(os.path.join(a.quant_dir, f"{prefix}-{ftype}.gguf"))
            blocks = []
            for name, rows in TENSORS:
                t = tensor(q, name)
                if t.tensor_type.name.lower() != tname.lower():
                    sys.exit(f"{q.path}: {name} is {t.tensor_type.name}, want {tname}")
                data = np.asarray(t.data).view(np.uint8)
                data = data.reshape(int(t.shape[1]), -1)
                blocks.append(data[rows].reshape(-1))
            fn = f"{tname}.{mode}.bin"
            np.concatenate(blocks).tofile(os.path.join(a.out, fn))
            entry[mode] = fn
        manifest["types"].append(entry)

    if a.lib:
        manifest["edge_rows"] = edge_fixtures(a.lib, a.out)

    with open(os.path.join(a.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {a.out}: {sum(x.size for x in inputs)} values, {len(TYPES)} types x 2 modes")


if __name__ == "__main__":
    main()
