#!/usr/bin/env python3
"""Generate kernels/ggml/grids.go: the lattice tables of the 2-3 bit i-quants.

The values come from llama.cpp's own Python package, gguf-py, at run time;
no table is typed in here. Two independent readings are made and must agree:

 1. the grid gguf-py holds (gguf.quants.<TYPE>.init_grid(), which decodes its
    packed hex string into float32 lattice values);
 2. the grid as it comes out of gguf-py's dequantizer: crafted blocks
    (d = 1, scales 0, signs +) whose grid indices enumerate every entry are
    dequantized with gguf.quants.dequantize and each entry is read back as
    value / db.

With --lib PATH/libggml-base.so the crafted blocks are also run through
llama.cpp's C dequantize_row_<type> (ctypes) and must give the same floats.

Usage (llama.cpp snapshot 3f545becc, ngxson/llama.cpp):

    PYTHONPATH=/work/llama/gguf-py /usr/bin/python3 \
        kernels/ggml/testdata/make_grids.py \
        --lib /work/llama/build/bin/libggml-base.so \
        -o kernels/ggml/grids.go
"""

import argparse
import ctypes
import hashlib
import struct
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

QK_K = 256
ONE_F16 = 0x3C00  # 1.0 as IEEE half

# name in Go, gguf-py class, qtype, values per grid entry, entries
GRIDS = [
    ("iq2xxs_grid", quants.IQ2_XXS, T.IQ2_XXS, 8, 256),
    ("iq2xs_grid", quants.IQ2_XS, T.IQ2_XS, 8, 512),
    ("iq2s_grid", quants.IQ2_S, T.IQ2_S, 8, 1024),
    ("iq3xxs_grid", quants.IQ3_XXS, T.IQ3_XXS, 4, 256),
    ("iq3s_grid", quants.IQ3_S, T.IQ3_S, 4, 512),
]


def craft(qtype, indices):
    """Blocks with d = 1, every scale 0, every sign +, whose grid entries,
    in output order, are `indices`. Returns (bytes, db) where db is the
    block scale those settings give."""
    hdr = struct.pack("<H", ONE_F16)
    out = bytearray()
    if qtype == T.IQ2_XXS:  # 8 x (4 index bytes, u32 signs|scale)
        per = 32
        for b in range(0, len(indices), per):
            blk = bytearray(hdr)
            for g in range(8):
                blk += bytes(indices[b + 4 * g : b + 4 * g + 4]) + b"\0\0\0\0"
            out += blk
        db = 0.125  # 1 * (0.5 + 0) * 0.25
    elif qtype == T.IQ2_XS:  # 32 x u16 (9-bit index, 7-bit sign idx), 8 scales
        per = 32
        for b in range(0, len(indices), per):
            out += hdr + struct.pack("<32H", *indices[b : b + per]) + bytes(8)
        db = 0.125
    elif qtype == T.IQ2_S:  # qs[32] low bytes, signs[32], qh[8], scales[8]
        per = 32
        for b in range(0, len(indices), per):
            idx = indices[b : b + per]
            qh = bytearray(8)
            for k, v in enumerate(idx):
                qh[k // 4] |= (v >> 8) << (2 * (k % 4))
            out += hdr + bytes(v & 0xFF for v in idx) + bytes(32) + qh + bytes(8)
        db = 0.125
    elif qtype == T.IQ3_XXS:  # qs[64] indices, 8 x u32 signs|scale
        per = 64
        for b in range(0, len(indices), per):
            out += hdr + bytes(indices[b : b + per]) + bytes(32)
        db = 0.25  # 1 * (0.5 + 0) * 0.5
    elif qtype == T.IQ3_S:  # qs[64] low bytes, qh[8], signs[32], scales[4]
        per = 64
        for b in range(0, len(indices), per):
            idx = indices[b : b + per]
            qh = bytearray(8)
            for k, v in enumerate(idx):
                qh[k // 8] |= (v >> 8) << (k % 8)
            out += hdr + bytes(v & 0xFF for v in idx) + qh + bytes(32) + bytes(4)
        db = 1.0  # 1 * (1 + 2*0)
    else:
        raise ValueError(qtype)
    return bytes(out), db


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


def read_grids(lib):
    grids = {}
    for name, cls, qtype, width, entries in GRIDS:
        cls.init_grid()
        table = np.asarray(cls.grid, dtype=np.float32).reshape(-1, width)
        assert table.shape[0] == entries, (name, table.shape)
        assert np.all(table == np.round(table)) and table.min() > 0 and table.max() < 256
        table = table.astype(np.int64)

        data, db = craft(qtype, list(range(entries)))
        y = quants.dequantize(np.frombuffer(data, dtype=np.uint8), qtype)
        read = (y / np.float32(db)).reshape(-1, width)
        if not np.array_equal(read, table):
            sys.exit(f"{name}: gguf-py's grid table and its dequantizer disagree")
        if lib is not None:
            yc = c_dequantize(lib, qtype, data)
            if not np.array_equal(yc.view(np.uint32), y.astype(np.float32).view(np.uint32)):
                sys.exit(f"{name}: libggml's dequantize_row_{qtype.name.lower()} disagrees with gguf-py")
        grids[name] = table

    ks = np.frombuffer(quants.IQ2_XXS.ksigns, dtype=np.uint8)
    assert ks.shape == (128,)
    # Each ksigns entry is a 7-bit sign pattern with an eighth bit that makes
    # the number of minus signs even.
    for i, v in enumerate(ks):
        assert v & 0x7F == i and bin(int(v)).count("1") % 2 == 0
    return grids, ks


def digest(table, width):
    """SHA-256 of a grid as its Go array lies in memory (little-endian
    words); iquants_test.go holds these to catch a hand-edited grids.go."""
    words = []
    for row in table:
        word = 0
        for j, v in enumerate(row):
            word |= int(v) << (8 * j)
        words.append(word)
    fmt = "<%d%s" % (len(words), "Q" if width == 8 else "I")
    return hashlib.sha256(struct.pack(fmt, *words)).hexdigest()


def go_source(grids, ks, lib):
    w = []
    w.append("// Code generated by kernels/ggml/testdata/make_grids.py; DO NOT EDIT.")
    w.append("//")
    w.append("// The lattice tables of llama.cpp's 2-3 bit i-quants, read at generation")
    w.append("// time from llama.cpp's gguf-py package (gguf.quants.<TYPE>.init_grid()),")
    w.append("// each confirmed by dequantizing crafted blocks with gguf-py")
    if lib is not None:
        w.append("// and with libggml-base's dequantize_row_<type>")
    w.append("// (llama.cpp snapshot 3f545becc). Regenerate with")
    w.append("//")
    w.append("//\tPYTHONPATH=/work/llama/gguf-py /usr/bin/python3 kernels/ggml/testdata/make_grids.py \\")
    w.append("//\t\t--lib /work/llama/build/bin/libggml-base.so -o kernels/ggml/grids.go")
    w.append("//")
    w.append("// A grid entry packs its 8 (or 4) unsigned lattice values one per byte,")
    w.append("// value j in byte j (bits 8j..8j+7), as llama.cpp's uint64 (uint32)")
    w.append("// tables read on a little-endian machine.")
    w.append("")
    w.append("package ggml")
    w.append("")
    for name, cls, qtype, width, entries in GRIDS:
        t = grids[name]
        gotype = "uint64" if width == 8 else "uint32"
        digits = 2 * width
        vals = sorted(set(t.flatten().tolist()))
        w.append(f"// {name} is the {qtype.name} lattice: {entries} entries of {width} values from {{{', '.join(map(str, vals))}}}.")
        w.append(f"var {name} = [{entries}]{gotype}{{")
        per_line = 4 if width == 8 else 8
        for i in range(0, entries, per_line):
            words = []
            for row in t[i : i + per_line]:
                word = 0
                for j, v in enumerate(row):
                    word |= int(v) << (8 * j)
                words.append(f"0x{word:0{digits}x},")
            w.append("\t" + " ".join(words))
        w.append("}")
        w.append("")
    w.append("// ksigns_iq2xs maps a 7-bit sign index to 8 sign bits (bit j set: value j")
    w.append("// is negative); the eighth bit makes the number of minus signs even.")
    w.append("var ksigns_iq2xs = [128]uint8{")
    for i in range(0, 128, 16):
        w.append("\t" + " ".join(f"0x{int(v):02x}," for v in ks[i : i + 16]))
    w.append("}")
    w.append("")
    w.append("// kmask_iq2xs selects value j's bit of a sign byte.")
    w.append("var kmask_iq2xs = [8]uint8{" + ", ".join(str(1 << j) for j in range(8)) + "}")
    w.append("")
    return "\n".join(w)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", required=True, help="grids.go to write")
    ap.add_argument("--lib", help="libggml-base.so to cross-check against (optional)")
    a = ap.parse_args()
    lib = ctypes.CDLL(a.lib) if a.lib else None
    grids, ks = read_grids(lib)
    with open(a.out, "w") as f:
        f.write(go_source(grids, ks, lib))
    print(f"wrote {a.out}: " + ", ".join(f"{n} {len(grids[n])}" for n, *_ in GRIDS))
    for name, _, _, width, _ in GRIDS:
        print(f"sha256 {name} {digest(grids[name], width)}")
    print(f"sha256 ksigns_iq2xs {hashlib.sha256(ks.tobytes()).hexdigest()}")


if __name__ == "__main__":
    main()
