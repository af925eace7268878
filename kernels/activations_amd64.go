//go:build !purego

package kernels

// Vectorised exponential and activations, see activations_amd64.s. The
// AVX-512 functions process all n elements; the AVX2 ones n/8 whole
// vectors.

//go:noescape
func expShiftAVX512(x *float32, n int, shift float32) (sum float32)

//go:noescape
func expSum64AVX512(x *float32, n int, shift float32) (sum float64)

//go:noescape
func maxAVX512(x *float32, n int) (m float32)

//go:noescape
func siluAVX512(x *float32, n int)

//go:noescape
func siluMulAVX512(x, gate *float32, n int)

//go:noescape
func relu2AVX512(x *float32, n int)

//go:noescape
func scaleAVX512(x *float32, n int, s float32)

//go:noescape
func expShiftAVX2(x *float32, n int, shift float32) (sum float32)

//go:noescape
func expSum64AVX2(x *float32, n int, shift float32) (sum float64)

//go:noescape
func maxAVX2(x *float32, n int) (m float32)

//go:noescape
func siluAVX2(x *float32, n int)

//go:noescape
func siluMulAVX2(x, gate *float32, n int)

//go:noescape
func relu2AVX2(x *float32, n int)

//go:noescape
func scaleAVX2(x *float32, n int, s float32)

// vecLen is how many leading elements of an n-element slice the vector
// kernels of the current level process (all with AVX-512, whole 8-float
// vectors with AVX2, none in portable Go); the callers finish the rest with
// the scalar code.
func vecLen(n int) (int, ISA) {
	switch isa := CurrentISA(); {
	case n == 0:
		return 0, Portable
	case isa >= AVX512:
		return n, AVX512
	case isa >= AVX2:
		return n &^ 7, AVX2
	}
	return 0, Portable
}

// expShiftVec sets x[i] = exp(x[i]−shift) for i < done and returns the sum
// of those values (in float32, several partial sums).
func expShiftVec(x []float32, shift float32) (sum float32, done int) {
	n, isa := vecLen(len(x))
	switch {
	case n == 0:
		return 0, 0
	case isa == AVX512:
		return expShiftAVX512(&x[0], n, shift), n
	}
	return expShiftAVX2(&x[0], n, shift), n
}

// expSum64Vec returns Σ exp(x[i]−shift) over i < done, accumulated in
// float64.
func expSum64Vec(x []float32, shift float32) (sum float64, done int) {
	n, isa := vecLen(len(x))
	switch {
	case n == 0:
		return 0, 0
	case isa == AVX512:
		return expSum64AVX512(&x[0], n, shift), n
	}
	return expSum64AVX2(&x[0], n, shift), n
}

// maxVec returns the largest of x[:done], ignoring NaNs (−Inf if none).
func maxVec(x []float32) (m float32, done int) {
	n, isa := vecLen(len(x))
	switch {
	case n == 0:
		return negInf32, 0
	case isa == AVX512:
		return maxAVX512(&x[0], n), n
	}
	return maxAVX2(&x[0], n), n
}

// siluVec applies SiLU to x[:done].
func siluVec(x []float32) (done int) {
	n, isa := vecLen(len(x))
	switch {
	case n == 0:
	case isa == AVX512:
		siluAVX512(&x[0], n)
	default:
		siluAVX2(&x[0], n)
	}
	return n
}

// siluMulVec sets x[i] *= silu(gate[i]) for i < done; len(gate) >= len(x).
func siluMulVec(x, gate []float32) (done int) {
	n, isa := vecLen(len(x))
	switch {
	case n == 0:
	case isa == AVX512:
		siluMulAVX512(&x[0], &gate[0], n)
	default:
		siluMulAVX2(&x[0], &gate[0], n)
	}
	return n
}

// relu2Vec applies ReLU² to x[:done].
func relu2Vec(x []float32) (done int) {
	n, isa := vecLen(len(x))
	switch {
	case n == 0:
	case isa == AVX512:
		relu2AVX512(&x[0], n)
	default:
		relu2AVX2(&x[0], n)
	}
	return n
}

// scaleVec multiplies x[:done] by s.
func scaleVec(x []float32, s float32) (done int) {
	n, isa := vecLen(len(x))
	switch {
	case n == 0:
	case isa == AVX512:
		scaleAVX512(&x[0], n, s)
	default:
		scaleAVX2(&x[0], n, s)
	}
	return n
}
