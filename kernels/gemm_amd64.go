//go:build !purego

package kernels

// Assembly micro-kernels, see gemm_amd64.s.

//go:noescape
func sgemm6x64AVX512(kc int, a *float32, lda int, b, c *float32, ldc int, accumulate int)

//go:noescape
func sgemm6x16AVX2(kc int, a *float32, lda int, b, c *float32, ldc int, accumulate int)

func init() {
	if hasAVX2 {
		microKernels[AVX2] = &microKernel{isa: AVX2, mr: 6, nr: 16, kc: 256, nc: 1024, fn: sgemm6x16AVX2}
	}
	if hasAVX512 {
		microKernels[AVX512] = &microKernel{isa: AVX512, mr: 6, nr: 64, kc: 256, nc: 512, fn: sgemm6x64AVX512}
	}
}
