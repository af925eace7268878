#!/usr/bin/env python3
"""Write the edge-case legacy-quantiser fixtures of package kernels/ggml.

Hand-made rows (ties at half-way points, zero, constant, subnormal and
tiny blocks, scales that overflow binary16, one-sided blocks, zero
importance weights, ...) quantised by llama.cpp's own library: this calls
ggml_quantize_chunk of libggml-base.so, the very function llama-quantize
quantises each tensor with, through ctypes. Writes under testdata/quant/:

  edge.in.f32              EDGE_ROWS_32 rows of 32 values, then
                           EDGE_ROWS_256 rows of 256 (see rows())
  edge.imatrix.f32         32 importance weights for the first group,
                           then 256 for the second
  <type>.plain.edge.bin    the blocks ggml_quantize_chunk wrote for those
  <type>.imatrix.edge.bin  rows, without / with the weights
  stress.sha256            SHA-256 digests of what ggml_quantize_chunk
                           writes for STRESS_ROWS synthetic rows of
                           STRESS_COLS values (stress_input(): splitmix64,
                           exactly representable values that the Go test
                           regenerates bit for bit), per type and mode, per
                           chunk of STRESS_CHUNK rows

    PYTHONPATH=/work/llama/gguf-py python3 make_quant_edge_legacy.py \
        --lib /work/llama/build/bin/libggml-base.so \
        --out kernels/ggml/testdata/quant

numpy only (plus the shared library); deterministic (fixed seeds).
"""

import argparse
import ctypes
import os

import numpy as np

# ggml type id, fixture name, bytes per 32-value block
TYPES = [(8, "q8_0", 34), (2, "q4_0", 18), (3, "q4_1", 20), (6, "q5_0", 22), (7, "q5_1", 24), (20, "iq4_nl", 18)]

KVALUES = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], dtype=np.float32)


def blocks32(rng):
    """Edge blocks of 32 values, each quantised as a row of its own."""
    f = np.float32
    B = []
    B.append(np.zeros(32, f))  # all zero
    z = np.zeros(32, f); z[::2] = -0.0; B.append(np.copysign(z, -1))  # all -0
    # Q8_0 ties: amax 127 gives d = 1, the others k+0.5
    b = (np.arange(32) % 16 - 7.5).astype(f); b[0] = 127; B.append(b)
    b = -b; B.append(b)
    # Q4_0 ties: max -8 gives d = 1; values k - 8 + 0.5
    b = (np.arange(32) % 16 - 7.5).astype(f); b[0] = -8; B.append(b)
    # Q5_0 ties: max -16 gives d = 1
    b = (np.arange(32) - 15.5).astype(f); b[0] = -16; B.append(b)
    # Q4_1 ties: min 0, max 15 gives d = 1
    b = (np.arange(32) % 15 + 0.5).astype(f); b[0] = 0; b[1] = 15; B.append(b)
    # Q5_1 ties: min 0, max 31
    b = (np.arange(32) - 0.5).astype(f); b[0] = 0; b[31] = 31; B.append(b)
    # the same ties with a power-of-two scale
    B.append((B[2] * f(2.0 ** -10)).astype(f))
    B.append((B[4] * f(2.0 ** 7)).astype(f))
    # IQ4_NL: code-book midpoints with max -127 (d = 1 before the search)
    mids = (KVALUES[:-1] + KVALUES[1:]) / 2
    b = np.concatenate([mids, mids, [-127.0, 113.0]]).astype(f)[:32]; b[0] = -127; B.append(b)
    # constant blocks (max == min), positive and negative
    B.append(np.full(32, 0.25, f)); B.append(np.full(32, -3.0, f))
    # one-sided blocks: all positive (min > 0), all negative
    B.append(np.abs(rng.standard_normal(32)).astype(f) + f(0.5))
    B.append(-np.abs(rng.standard_normal(32)).astype(f) - f(0.5))
    # a single nonzero value, each sign
    b = np.zeros(32, f); b[5] = 0.7; B.append(b)
    b = np.zeros(32, f); b[31] = -0.7; B.append(b)
    # an outlier among small values
    b = (rng.standard_normal(32) * 0.01).astype(f); b[9] = 3.0; B.append(b)
    # two values of the largest magnitude, opposite signs (the first wins)
    b = (rng.standard_normal(32) * 0.1).astype(f); b[3] = 1.0; b[20] = -1.0; B.append(b)
    b = (rng.standard_normal(32) * 0.1).astype(f); b[3] = -1.0; b[20] = 1.0; B.append(b)
    # tiny: below GROUP_MAX_EPS (1e-15), binary16-subnormal scales, float32
    # subnormals (1/d overflows), the smallest normals
    B.append((rng.standard_normal(32) * 1e-17).astype(f))
    B.append((rng.standard_normal(32) * 1e-6).astype(f))
    B.append((rng.standard_normal(32) * 1e-9).astype(f))
    B.append((rng.standard_normal(32) * 1e-39).astype(f))
    b = np.zeros(32, f); b[1] = np.float32(1.4e-45); b[7] = -np.float32(2.8e-45); B.append(b)
    B.append((rng.standard_normal(32) * 1.2e-38).astype(f))
    # huge: scales beyond binary16 (d rounds to Inf), and near FLT_MAX
    B.append((rng.standard_normal(32) * 1e5).astype(f))
    B.append((rng.standard_normal(32) * 1e7).astype(f))
    b = (rng.standard_normal(32) * 1e37).astype(f); b[0] = 3e38; b[1] = -3e38; B.append(b)
    # binary16 rounding of the scale: amax/127 near a half-way point
    B.append(np.linspace(-1, 1, 32, dtype=f) * f(127 * (1 + 2.0 ** -11)))
    # ordinary random blocks
    for s in (1.0, 0.02, 30.0):
        B.append((rng.standard_normal(32) * s).astype(f))
    # around GROUP_MAX_EPS: amax 3e-15, exactly 1e-15f, the float below it
    eps = f(1e-15)
    for amax in (f(3e-15), eps, np.nextafter(eps, f(0))):
        b = (np.linspace(-1, 1, 32, dtype=f) * f(0.5) * amax).astype(f); b[17] = -amax; B.append(b)
    return B


def rows256(rng):
    f = np.float32
    R = []
    R.append((rng.standard_normal(256) * 0.05).astype(f))  # ordinary
    r = (rng.standard_normal(256) * 0.05).astype(f); r[32:64] = 0; r[100] = 4.0; R.append(r)  # zero block, outlier
    r = rng.laplace(size=256).astype(f); r[::7] = np.round(r[::7] * 4) / 4 + f(0.125); R.append(r)
    return R


def weights(rng, n):
    w = rng.exponential(size=n).astype(np.float32)
    w[3] = 0  # a zero weight
    w[n - 5] = 1e-20
    if n == 256:
        w[64:96] = 0  # a block with all weights zero
    return w


# The stress rows: many blocks, so that rare float-order slips show, with
# only their digests stored.
STRESS_ROWS, STRESS_COLS, STRESS_CHUNK = 512, 512, 64
MASK64 = (1 << 64) - 1


def splitmix64(seed, n):
    """The first n outputs of splitmix64 started at seed (uint64 array)."""
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def stress_input():
    """Rows r of STRESS_COLS values from splitmix64(1) in order: with z the
    value's draw, m = z>>40 (24 bits), masked to its top 24, 8, 3 or 24
    bits for r%4 = 0, 1, 2, 3 (coarse values make ties and repeats);
    e = (z>>32)&7, or 0 when r%4 = 3; value = ±m·2^-(28+e), negative when
    z&1. Importance weights from splitmix64(2): (1 + (z>>40)&0xffff)·2^-10,
    or 0 when z&15 == 0. All exact in float32."""
    n = STRESS_ROWS * STRESS_COLS
    z = splitmix64(1, n)
    m = (z >> np.uint64(40)).astype(np.int64)
    e = ((z >> np.uint64(32)) & np.uint64(7)).astype(np.int64)
    r = (np.arange(n) // STRESS_COLS) % 4
    keep = np.select([r == 1, r == 2], [0xFF0000, 0xE00000], 0xFFFFFF)
    m &= keep
    e[r == 3] = 0
    v = np.ldexp(m.astype(np.float64), -(28 + e))
    v[(z & np.uint64(1)) == 1] *= -1
    x = v.astype(np.float32).reshape(STRESS_ROWS, STRESS_COLS)
    zw = splitmix64(2, STRESS_COLS)
    w = (1 + ((zw >> np.uint64(40)) & np.uint64(0xFFFF)).astype(np.float64)) * 2.0 ** -10
    w[(zw & np.uint64(15)) == 0] = 0
    return x, w.astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, help="libggml-base.so of the llama.cpp build")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    lib = ctypes.CDLL(a.lib)
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]

    rng = np.random.default_rng(20240601)
    g32 = np.stack(blocks32(rng)).astype("<f4")
    g256 = np.stack(rows256(rng)).astype("<f4")
    w32, w256 = weights(rng, 32).astype("<f4"), weights(rng, 256).astype("<f4")
    np.concatenate([g32.ravel(), g256.ravel()]).tofile(os.path.join(a.out, "edge.in.f32"))
    np.concatenate([w32, w256]).tofile(os.path.join(a.out, "edge.imatrix.f32"))
    print(f"edge.in.f32: {len(g32)} rows of 32, {len(g256)} rows of 256")

    def quant(tid, bb, x, w):
        nrows, n = x.shape
        out = np.zeros(nrows * n // 32 * bb, np.uint8)
        x = np.ascontiguousarray(x)
        wp = None if w is None else np.ascontiguousarray(w).ctypes.data
        got = lib.ggml_quantize_chunk(tid, x.ctypes.data, out.ctypes.data, 0, nrows, n, wp)
        assert got == len(out), (got, len(out))
        return out

    for tid, name, bb in TYPES:
        for mode in ("plain", "imatrix"):
            parts = [quant(tid, bb, g32, w32 if mode == "imatrix" else None),
                     quant(tid, bb, g256, w256 if mode == "imatrix" else None)]
            b = np.concatenate(parts)
            path = os.path.join(a.out, f"{name}.{mode}.edge.bin")
            b.tofile(path)
            print(f"{os.path.basename(path)}: {len(b)} bytes")

    import hashlib
    sx, sw = stress_input()
    lines = []
    for tid, name, bb in TYPES:
        for mode in ("plain", "imatrix"):
            b = quant(tid, bb, sx, sw if mode == "imatrix" else None)
            per = STRESS_CHUNK * STRESS_COLS // 32 * bb
            for c in range(STRESS_ROWS // STRESS_CHUNK):
                lines.append(f"{name}.{mode} {c} {hashlib.sha256(b[c * per:(c + 1) * per].tobytes()).hexdigest()}\n")
    with open(os.path.join(a.out, "stress.sha256"), "w") as f:
        f.write(f"# {STRESS_ROWS} rows of {STRESS_COLS}, chunks of {STRESS_CHUNK} rows; see make_quant_edge_legacy.py\n")
        f.writelines(lines)
    print(f"stress.sha256: {len(lines)} digests; first values {sx.ravel()[:3]}, weights {sw[:3]}")


if __name__ == "__main__":
    main()
