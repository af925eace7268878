//go:build !purego

package kernels

// Selective-scan kernels, see scan_amd64.s.

//go:noescape
func ssmScan128AVX512(S *float32, blocks, T int, x *float32, xs int, B, C *float32, bcs int, dadt *float32, D float32, y *float32, ys int)

//go:noescape
func ssmStepAVX512(S *float32, P, N int, x, B, C, y *float32, dA, dt, D float32)

//go:noescape
func ssmStepAVX2(S *float32, P, N int, x, B, C, y *float32, dA, dt, D float32)

// ssmChunk is how many tokens ssmScan128AVX512 advances a 16-row block of
// the state through before moving to the next block: their B and C (1 KiB
// a token) and the block (8 KiB) stay in L1 meanwhile.
const ssmChunk = 16

// ssmScanVec is SSMScan (with the arguments checked by checkSSM) in
// assembly; it reports false below the AVX2 level.
func ssmScanVec(S []float32, P, N, T int, x []float32, xs int, B, C []float32, bcs int, dA, dt []float32, ds int, D float32, y []float32, ys int) bool {
	isa := CurrentISA()
	if isa < AVX2 {
		return false
	}
	blocks := 0
	if isa >= AVX512 && N == 128 {
		blocks = P / 16
	}
	if blocks > 0 {
		var dadt [2 * ssmChunk]float32
		for t0 := 0; t0 < T; t0 += ssmChunk {
			tc := min(ssmChunk, T-t0)
			for i := range tc {
				dadt[2*i], dadt[2*i+1] = dA[(t0+i)*ds], dt[(t0+i)*ds]
			}
			ssmScan128AVX512(&S[0], blocks, tc, &x[t0*xs], xs, &B[t0*bcs], &C[t0*bcs], bcs, &dadt[0], D, &y[t0*ys], ys)
		}
	}
	// Rows not in a whole 16-row block, or all of them, one token at a time.
	if r0 := blocks * 16; r0 < P {
		for t := 0; t < T; t++ {
			if isa >= AVX512 {
				ssmStepAVX512(&S[r0*N], P-r0, N, &x[t*xs+r0], &B[t*bcs], &C[t*bcs], &y[t*ys+r0], dA[t*ds], dt[t*ds], D)
			} else {
				ssmStepAVX2(&S[r0*N], P-r0, N, &x[t*xs+r0], &B[t*bcs], &C[t*bcs], &y[t*ys+r0], dA[t*ds], dt[t*ds], D)
			}
		}
	}
	return true
}
