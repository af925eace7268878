package kernels

import (
	"fmt"
	"math"
	"sync"
)

// FWHT applies the orthonormal fast Walsh-Hadamard transform to x in place:
// x ← H·x/√n with H the Sylvester Hadamard matrix of order n = len(x)
// (H₁ = [1], H₂ₘ = [[Hₘ, Hₘ], [Hₘ, −Hₘ]], natural order), so that
// H[i][j] = (−1)^popcount(i&j). The transform is orthonormal and its own
// inverse. It panics unless len(x) is a power of two (len 0 is a no-op).
// Cost: n·log₂n additions, vectorised with AVX-512 or AVX2.
func FWHT(x []float32) {
	n := len(x)
	if n == 0 {
		return
	}
	if n&(n-1) != 0 {
		panic(fmt.Sprintf("kernels.FWHT: length %d is not a power of two", n))
	}
	fwht(x, float32(1/math.Sqrt(float64(n))))
}

// FWHTRows applies FWHT to each of the rows consecutive length-n rows of x
// (a row-major rows×n matrix, x·Hᵀ/√n = x·H/√n), splitting large batches
// over goroutines. It panics unless n is a power of two and x holds rows·n
// values.
func FWHTRows(x []float32, rows, n int) {
	if rows < 0 || n <= 0 || n&(n-1) != 0 || len(x) < rows*n {
		panic(fmt.Sprintf("kernels.FWHTRows: %d rows of %d (a power of two) need %d values, have %d", rows, n, rows*n, len(x)))
	}
	scale := float32(1 / math.Sqrt(float64(n)))
	t := min(threads(), rows)
	if rows*n < 1<<16 {
		t = 1
	}
	var wg sync.WaitGroup
	for i := 0; i < t; i++ {
		r0, r1 := i*rows/t, (i+1)*rows/t
		body := func() {
			for r := r0; r < r1; r++ {
				fwht(x[r*n:(r+1)*n], scale)
			}
		}
		if i == t-1 {
			body()
			break
		}
		wg.Add(1)
		go func() { defer wg.Done(); body() }()
	}
	wg.Wait()
}

// HadamardBlockSize returns the largest power of two dividing n (the order
// of the Hadamard blocks of a block-diagonal rotation of a width-n vector:
// 1024 for 21504 = 21·1024, 256 for 1280 = 5·256, 8 for 1544 = 8·193), or 0
// for n <= 0.
func HadamardBlockSize(n int) int {
	if n <= 0 {
		return 0
	}
	return n & -n
}

// Hadamard returns the orthonormal Sylvester Hadamard matrix H/√n of order
// n (a power of two) as a row-major n×n slice; it is symmetric, so
// FWHT(x) = Hadamard(n)·x. It panics unless n is a power of two.
func Hadamard(n int) []float32 {
	if n <= 0 || n&(n-1) != 0 {
		panic(fmt.Sprintf("kernels.Hadamard: order %d is not a power of two", n))
	}
	h := make([]float32, n*n)
	s := float32(1 / math.Sqrt(float64(n)))
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if parity(i & j) {
				h[i*n+j] = -s
			} else {
				h[i*n+j] = s
			}
		}
	}
	return h
}

func parity(v int) bool {
	p := false
	for ; v != 0; v &= v - 1 {
		p = !p
	}
	return p
}

// fwht transforms x (length a power of two) and multiplies it by scale.
func fwht(x []float32, scale float32) {
	if fwhtAsm(x, scale) {
		return
	}
	fwhtGo(x, scale)
}

// fwhtGo is the portable transform: radix-4 passes (two butterfly stages
// per sweep over x), a radix-2 pass when log₂n is odd, then the scaling.
func fwhtGo(x []float32, scale float32) {
	n := len(x)
	h := 1
	if bitsLen(n)%2 == 0 { // log₂n odd: one radix-2 stage first
		for i := 0; i < n; i += 2 {
			a, b := x[i], x[i+1]
			x[i], x[i+1] = a+b, a-b
		}
		h = 2
	}
	for ; 2*h < n; h *= 4 {
		for i := 0; i < n; i += 4 * h {
			a := x[i : i+h]
			b := x[i+h : i+2*h]
			c := x[i+2*h : i+3*h]
			d := x[i+3*h : i+4*h]
			for j := range a {
				a0, b0, c0, d0 := a[j]+b[j], a[j]-b[j], c[j]+d[j], c[j]-d[j]
				a[j], b[j], c[j], d[j] = a0+c0, b0+d0, a0-c0, b0-d0
			}
		}
	}
	if scale != 1 {
		for i := range x {
			x[i] *= scale
		}
	}
}

// bitsLen is the number of bits of n (log₂n + 1 for a power of two).
func bitsLen(n int) int {
	b := 0
	for ; n != 0; n >>= 1 {
		b++
	}
	return b
}
