//go:build !purego

package kernels

// GEMV kernels and dequantisers, see gemv_amd64.s.

//go:noescape
func gemv4x4F32AVX512(k int, w0, w1, w2, w3, x0, x1, x2, x3, res *float32)

//go:noescape
func gemv4x4BF16AVX512(k int, w0, w1, w2, w3 *byte, x0, x1, x2, x3, res *float32)

//go:noescape
func gemv4x4FP16AVX512(k int, w0, w1, w2, w3 *byte, x0, x1, x2, x3, res *float32)

//go:noescape
func dequantQ8AVX512(dst *float32, src *byte, groups, group int, scales *float32, zeros *byte, zstep int)

//go:noescape
func dequantQ4AVX512(dst *float32, src *byte, groups, group int, scales *float32, zeros *byte, zstep int)

func gemvAvailable() bool { return CurrentISA() >= AVX512 }

// gemvF32 sets res[r*4+i] = Σ_{p<k} w[r][p]·x[i][p] for float32 rows.
func gemvF32(k int, w, x *[4]*float32, res *[16]float32) {
	gemv4x4F32AVX512(k, w[0], w[1], w[2], w[3], x[0], x[1], x[2], x[3], &res[0])
}

// gemvHalf is gemvF32 for bf16 (fp16 when fp16 is set) weight rows.
func gemvHalf(k int, w *[4]*byte, x *[4]*float32, res *[16]float32, fp16 bool) {
	if fp16 {
		gemv4x4FP16AVX512(k, w[0], w[1], w[2], w[3], x[0], x[1], x[2], x[3], &res[0])
	} else {
		gemv4x4BF16AVX512(k, w[0], w[1], w[2], w[3], x[0], x[1], x[2], x[3], &res[0])
	}
}

// symmetricZeros holds the implicit zero point 2^(bits-1) of each bit width.
var symmetricZeros = [9]byte{2: 2, 3: 4, 4: 8, 5: 16, 6: 32, 7: 64, 8: 128}

// dequantRowAsm writes the len(dst) dequantised codes of row r of q starting
// at column p0, for 8 and 4 bits when the run is made of whole scale groups
// of a multiple of 16 columns (or lies in one group); it reports whether it
// did.
func dequantRowAsm(dst []float32, q *QMatrix, r, p0 int) bool {
	n := len(dst)
	if n == 0 || n%16 != 0 || (q.Bits != 8 && q.Bits != 4) || q.Bits == 4 && p0%2 != 0 {
		return false
	}
	group, groups := n, 1
	if !q.PerTensor && q.GroupSize < q.Cols {
		if q.GroupSize%16 != 0 || p0%q.GroupSize != 0 || n%q.GroupSize != 0 {
			if p0/q.GroupSize != (p0+n-1)/q.GroupSize {
				return false
			}
		} else {
			group, groups = q.GroupSize, n/q.GroupSize
		}
	}
	g := q.scaleIndex(r, p0)
	_ = q.Scales[g+groups-1]
	zeros, zstep := &symmetricZeros[q.Bits], 0
	if q.Zeros != nil {
		_ = q.Zeros[g+groups-1]
		zeros, zstep = &q.Zeros[g], 1
		if q.PerTensor {
			zstep = 0
		}
	}
	rb := q.RowBytes()
	src := q.Codes[r*rb+p0*q.Bits/8 : r*rb+(p0+n)*q.Bits/8]
	if q.Bits == 8 {
		dequantQ8AVX512(&dst[0], &src[0], groups, group, &q.Scales[g], zeros, zstep)
	} else {
		dequantQ4AVX512(&dst[0], &src[0], groups, group, &q.Scales[g], zeros, zstep)
	}
	return true
}
