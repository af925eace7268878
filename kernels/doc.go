// Package kernels holds the numerical inner loops of hyquant: float32 matrix
// multiplication (blocked, multi-threaded, AVX2/AVX-512 assembly with a
// portable Go fallback), matrix multiplication directly on packed integer
// weights, and the fast Walsh-Hadamard transform.
//
// Every projection of the model is a Linear. The model code never knows
// whether a Linear is dense float32, memory-mapped bf16, or packed int4; an
// input transform (a rotation) wraps a Linear instead of changing the mixer.
//
// # Matrix multiplication
//
// MatMulNT (C = A·Bᵀ) and MatMulNN (C = A·B) and every Linear share one
// GotoBLAS-style driver (gemm.go): C is split into one rectangle per
// goroutine (GOMAXPROCS of them, see SetThreads), preferably by columns so
// that each goroutine converts its own part of the weights; within a
// rectangle, B is packed block by block into panels of nr columns, converted
// from its storage format on the way (float32, bf16, fp16, or integer codes
// dequantised with their scales), and a register-blocked micro-kernel
// (6×64 with AVX-512, 6×16 with AVX2+FMA, 4×4 in portable Go) multiplies
// rows of A read in place with those panels. Dense packs its weights once, at
// construction; BF16Dense, FP16Dense and QLinear leave them in their stored
// form (a memory-mapped file region, packed 4-bit codes, ...) and convert one
// L2-sized block at a time, so memory holds the compact form only.
//
// # Packed formats
//
// A packed format is a Format (format.go): a name, a block geometry, the
// bytes of a row, and a view of packed bytes as a RowDecoder, the one method
// (decode whole blocks of one row) that DecodedLinear needs to run GEMM and
// GEMV on the format without unpacking the matrix. One registry holds them:
// every llama.cpp type registers itself from package kernels/ggml (one file
// per format), and hyquant's own group format is GroupFormat (QMatrix, its
// in-memory form, decodes as a RowDecoder too; QLinear stays its assembly
// fast path).
//
// The instruction set is chosen at start-up from CPU feature detection
// (BestISA); CurrentISA, SetISA and the HYQUANT_ISA environment variable
// ("portable", "avx2", "avx512") select a slower level for comparisons. The
// build tag purego, or any architecture but amd64, leaves the portable Go
// code only.
//
// Results are float32 sums in an order that depends on the blocking and
// the kernel, not on the number of goroutines: the same call on the same
// machine gives the same bits whatever GOMAXPROCS is.
//
// # Hadamard transforms
//
// FWHT and FWHTRows apply the orthonormal Walsh-Hadamard transform in place
// (AVX-512 vectorised); HadamardBlockSize gives the block order of a
// block-diagonal rotation for widths that are not powers of two.
package kernels
