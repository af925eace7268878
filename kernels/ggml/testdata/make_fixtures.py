#!/usr/bin/env python3
"""Write the dequantisation fixtures of package kernels/ggml.

For each type, <name>.bin holds whole blocks of that type exactly as
llama.cpp's llama-quantize wrote them into a GGUF file, followed by a few
hand-made edge-case blocks; <name>.f32 holds gguf-py's dequantisation of
every block of <name>.bin (gguf.quants.dequantize), little-endian float32.
The Go tests require their own dequantisation to be bit-identical.

Usage (see README.md for how the GGUF files were made):

    PYTHONPATH=/path/to/llama.cpp/gguf-py python3 make_fixtures.py \
        --quantized /work/llama-out/legacy-k \
        --bf16 /work/shared/reference/nemotron-h-mini.bf16.gguf \
        --out kernels/ggml/testdata

It only reads GGUF files; it quantises nothing itself.
"""

import argparse
import os
import sys

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

# type -> (file made by llama-quantize --pure, byte offsets of the binary16
# scale fields inside one block: the edge blocks overwrite those with
# chosen values and leave everything else as made here).
QUANTIZED = {
    T.Q4_0: ("Q4_0", [0]),
    T.Q4_1: ("Q4_1", [0, 2]),
    T.Q5_0: ("Q5_0", [0]),
    T.Q5_1: ("Q5_1", [0, 2]),
    T.Q8_0: ("Q8_0", [0]),
    T.Q2_K: ("Q2_K", [80, 82]),
    T.Q3_K: ("Q3_K_S", [108]),
    T.Q4_K: ("Q4_K_S", [0, 2]),
    T.Q5_K: ("Q5_K_S", [0, 2]),
    T.Q6_K: ("Q6_K", [208]),
    T.IQ4_NL: ("IQ4_NL", [0]),
    T.IQ4_XS: ("IQ4_XS", [0]),
}

# Rows taken from the model: (tensor, first row, number of rows).
ROWS = [
    ("blk.0.ssm_in.weight", 0, 2),  # 256 values a row
    ("blk.1.ffn_down.weight", 0, 1),  # 1280 values a row
]

# Scale values for the edge blocks (binary16 bits), a (d, second scale)
# pair per block, the second for dmin or m where the type has one: ±0,
# ±the smallest and largest subnormals, ±the smallest normal, 1, ±65504.
# No Inf or NaN: their products would test NaN propagation order, which
# neither llama.cpp nor gguf-py defines.
EDGE_HALVES = [
    (0x7BFF, 0x7BFF),  # with an all-ones payload: the largest products
    (0xFBFF, 0x0001),  # all-zero payload
    (0x0001, 0x03FF),  # random payloads from here on
    (0x83FF, 0x8400),
    (0x0000, 0x3C00),
    (0x8000, 0xFBFF),
    (0x3C00, 0x8001),
    (0x0400, 0x0000),
]

# The name llama.cpp prints, which the Go table uses too.
NAMES = {
    T.F32: "f32", T.F16: "f16", T.BF16: "bf16",
    T.Q4_0: "q4_0", T.Q4_1: "q4_1", T.Q5_0: "q5_0", T.Q5_1: "q5_1",
    T.Q8_0: "q8_0", T.Q2_K: "q2_K", T.Q3_K: "q3_K", T.Q4_K: "q4_K",
    T.Q5_K: "q5_K", T.Q6_K: "q6_K", T.IQ4_NL: "iq4_nl", T.IQ4_XS: "iq4_xs",
}


def tensor_rows(reader, name, first, count):
    """Raw bytes and type of rows [first, first+count) of a tensor."""
    for t in reader.tensors:
        if t.name == name:
            data = np.asarray(t.data)
            rows = data.reshape(data.shape[0], -1)[first:first + count]
            return t.tensor_type, np.ascontiguousarray(rows).view(np.uint8).tobytes()
    raise SystemExit(f"{name}: no such tensor")


def edge_blocks(qtype, half_offsets):
    """Hand-made blocks, one per EDGE_HALVES pair: chosen scales over
    all-ones, all-zero and random payloads."""
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    n = len(EDGE_HALVES)
    rng = np.random.default_rng(int(qtype))
    out = bytearray()
    for k in range(n):
        if k == 0:
            blk = bytearray(b"\xff" * type_size)
        elif k == 1:
            blk = bytearray(type_size)
        else:
            blk = bytearray(rng.integers(0, 256, type_size, dtype=np.uint8).tobytes())
        halves = EDGE_HALVES[k]
        for j, off in enumerate(half_offsets):
            blk[off:off + 2] = int(halves[j % 2]).to_bytes(2, "little")
        out += blk
    return bytes(out)


# Float edge values, as raw bits.
F16_EDGES = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0400, 0x3C00,
             0xBC00, 0x3555, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00,
             0x7E00, 0xFE00, 0x7E01, 0x7FFF]  # the last four: quiet NaNs
BF16_EDGES = [0x0000, 0x8000, 0x0001, 0x807F, 0x0080, 0x3F80, 0xBF80, 0x7F7F,
              0xFF7F, 0x7F80, 0xFF80, 0x7FC0, 0x7F81, 0xFFFF]
F32_EDGES = [0x00000000, 0x80000000, 0x00000001, 0x007FFFFF, 0x00800000,
             0x3F800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000,
             0x7FC00000, 0x7F800001, 0xFFFFFFFF]


def write(out_dir, qtype, raw):
    name = NAMES[qtype]
    arr = np.frombuffer(raw, dtype=np.uint8).copy()
    values = np.ascontiguousarray(dequantize(arr, qtype), dtype="<f4").reshape(-1)
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    assert values.size == len(raw) // type_size * block_size
    with open(os.path.join(out_dir, name + ".bin"), "wb") as f:
        f.write(raw)
    with open(os.path.join(out_dir, name + ".f32"), "wb") as f:
        f.write(values.tobytes())
    print(f"{name:7s} {len(raw) // type_size:4d} blocks, {values.size:5d} values", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quantized", required=True, help="folder of nemotron-h-mini.<TYPE>.gguf made by llama-quantize --pure")
    ap.add_argument("--bf16", required=True, help="the bf16 GGUF written by convert_hf_to_gguf.py")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()

    def model(stem):
        return GGUFReader(os.path.join(args.quantized, f"nemotron-h-mini.{stem}.gguf"))

    for qtype, (stem, half_offsets) in QUANTIZED.items():
        reader = model(stem)
        raw = b""
        for name, first, count in ROWS:
            got, rows = tensor_rows(reader, name, first, count)
            if got != qtype:
                raise SystemExit(f"{stem}: {name} is {got.name}, want {qtype.name}")
            raw += rows
        write(args.out, qtype, raw + edge_blocks(qtype, half_offsets))

    # F16 rows from llama-quantize's F16 output, BF16 rows from the
    # converter's file, F32 from a tensor the converter keeps in F32.
    reader = model("F16")
    raw = b"".join(tensor_rows(reader, n, a, c)[1] for n, a, c in ROWS)
    write(args.out, T.F16, raw + np.array(F16_EDGES, dtype="<u2").tobytes())

    reader = GGUFReader(args.bf16)
    raw = b"".join(tensor_rows(reader, n, a, c)[1] for n, a, c in ROWS)
    write(args.out, T.BF16, raw + np.array(BF16_EDGES, dtype="<u2").tobytes())

    got, raw = tensor_rows(reader, "blk.0.ssm_conv1d.weight", 0, 64)  # 64 rows of 4
    assert got == T.F32
    write(args.out, T.F32, raw + np.array(F32_EDGES, dtype="<u4").tobytes())


if __name__ == "__main__":
    main()
