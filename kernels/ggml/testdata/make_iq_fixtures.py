#!/usr/bin/env python3
"""Cut i-quant test fixtures out of GGUF files written by llama-quantize.

For each type it takes real blocks (rows 0 and 1 of blk.0.ssm_in.weight,
256 values each, and row 0 of blk.1.ffn_down.weight, 1280 values: 7
super-blocks) and writes, next to this script,

    <type>.bin  the raw blocks, as stored in the GGUF file, followed by
                edge blocks: copies of the first block whose binary16 scale
                d is replaced by +0, -0, the smallest subnormal, the largest
                finite (both signs) and +Inf
    <type>.f32  gguf-py's dequantisation of all of them, float32
                little-endian

With --lib PATH/libggml-base.so the blocks are also dequantized by
llama.cpp's C dequantize_row_<type> (ctypes), which must agree with
gguf-py bit for bit. See README-iquants.md for the full recipe.

Usage:

    PYTHONPATH=/work/llama/gguf-py /usr/bin/python3 \
        kernels/ggml/testdata/make_iq_fixtures.py \
        --lib /work/llama/build/bin/libggml-base.so /work/llama-out/iq
"""

import argparse
import ctypes
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader, quants

TYPES = [T.IQ2_XXS, T.IQ2_XS, T.IQ2_S, T.IQ3_XXS, T.IQ3_S]
PICKS = [("blk.0.ssm_in.weight", [0, 1]), ("blk.1.ffn_down.weight", [0])]
# binary16 bit patterns put in the d field (bytes 0-1 of every block here)
EDGE_D = [0x0000, 0x8000, 0x0001, 0x7BFF, 0xFBFF, 0x7C00]
# (No NaN: IEEE leaves the sign of NaN * -1 open, and gguf-py (numpy) and
# libggml do give NaNs of different signs for it.)


def c_dequantize(lib, qtype, data):
    fn = getattr(lib, "dequantize_row_" + qtype.name.lower())
    fn.restype = None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    bs, ts = quants.GGML_QUANT_SIZES[qtype]
    n = len(data) // ts * bs
    src = ctypes.create_string_buffer(data, len(data))
    dst = np.zeros(n, dtype=np.float32)
    fn(src, dst.ctypes.data, n)
    return dst


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("indir", help="folder holding IQ2_XXS.gguf ... IQ3_S.gguf")
    ap.add_argument("--lib", help="libggml-base.so to cross-check against (optional)")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    a = ap.parse_args()
    lib = ctypes.CDLL(a.lib) if a.lib else None

    for qtype in TYPES:
        path = os.path.join(a.indir, qtype.name + ".gguf")
        r = GGUFReader(path)
        tensors = {t.name: t for t in r.tensors}
        bs, ts = quants.GGML_QUANT_SIZES[qtype]
        chunks = []
        for name, rows in PICKS:
            t = tensors[name]
            if t.tensor_type != qtype:
                sys.exit(f"{path}: {name} is {t.tensor_type.name}, want {qtype.name}")
            data = np.asarray(t.data, dtype=np.uint8)
            assert data.shape[1] == t.shape[0] // bs * ts, (name, data.shape)
            for row in rows:
                chunks.append(data[row])
        real = np.concatenate(chunks).astype(np.uint8)
        edges = []
        for d in EDGE_D:
            blk = real[:ts].copy()
            blk[0], blk[1] = d & 0xFF, d >> 8
            edges.append(blk)
        raw = np.concatenate([real] + edges)
        assert len(raw) % ts == 0
        y = quants.dequantize(raw, qtype).astype(np.float32).reshape(-1)
        assert y.size == len(raw) // ts * bs
        if lib is not None:
            yc = c_dequantize(lib, qtype, raw.tobytes())
            if not np.array_equal(yc.view(np.uint32), y.view(np.uint32)):
                bad = np.flatnonzero(yc.view(np.uint32) != y.view(np.uint32))
                sys.exit(f"{qtype.name}: libggml and gguf-py differ at {len(bad)} values, first {bad[0]}")
        base = os.path.join(a.out, qtype.name.lower())
        with open(base + ".bin", "wb") as f:
            f.write(raw.tobytes())
        with open(base + ".f32", "wb") as f:
            f.write(y.astype("<f4").tobytes())
        print(f"{qtype.name}: {len(real) // ts} real + {len(edges)} edge blocks, {y.size} values, "
              f"{np.count_nonzero(y < 0)} negative, max |y| {np.abs(y[: real.size // ts * bs]).max():.6g}"
              + (", libggml agrees" if lib is not None else ""))


if __name__ == "__main__":
    main()
