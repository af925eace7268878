// Package kernels holds the numerical inner loops of hyquant: float32 matrix
// multiplication (blocked, multi-threaded, AVX2/AVX-512 assembly with a
// portable Go fallback), matrix multiplication directly on packed integer
// weights, and the fast Walsh-Hadamard transform.
//
// Every projection of the model is a Linear. The model code never knows
// whether a Linear is dense float32, memory-mapped bf16, or packed int4; an
// input transform (a rotation) wraps a Linear instead of changing the mixer.
package kernels
