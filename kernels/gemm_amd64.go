//go:build !purego

package kernels

// Assembly micro-kernels, see gemm_amd64.s.

//go:noescape
func sgemm6x64AVX512(kc int, a, b, c *float32, ldc int, accumulate int)

//go:noescape
func sgemm6x16AVX2(kc int, a, b, c *float32, ldc int, accumulate int)

func init() {
	if hasAVX2 {
		microKernels[AVX2] = &microKernel{isa: AVX2, mr: 6, nr: 16, kc: 256, nc: 1024, fn: sgemm6x16AVX2}
	}
	if hasAVX512 {
		microKernels[AVX512] = &microKernel{isa: AVX512, mr: 6, nr: 64, kc: 256, nc: 512, fn: sgemm6x64AVX512}
	}
}

// transposeAsm is packTransposed in assembly; it reports false when it does
// not handle the case.
func transposeAsm(dst []float32, nr int, src []float32, lds, w, kc int) bool {
	return false
}

// packHalfAsm packs leading columns of a bf16 (fp16 when fp16 is set) panel
// in assembly, see packHalf; it returns how many of the w columns it did.
func packHalfAsm(dst []float32, nr int, src []byte, lds, w, kc int, fp16 bool) int {
	return 0
}

// packQuantAsm dequantises leading columns of a QMatrix panel in assembly;
// it returns how many of the w columns it did.
func packQuantAsm(dst []float32, nr int, q *QMatrix, j0, w, p0, kc int) int {
	return 0
}
