//go:build !purego

package kernels

//go:noescape
func subScaled64AVX2(y, x *float64, n int, a float64)

// subScaled64Vec does SubScaled64 for the leading whole 4-double vectors
// (AVX2, also on AVX-512 machines: the loop is bound by loads and stores).
func subScaled64Vec(y, x []float64, a float64) (done int) {
	n := len(y) &^ 3
	if n == 0 || CurrentISA() < AVX2 {
		return 0
	}
	subScaled64AVX2(&y[0], &x[0], n, a)
	return n
}
