//go:build !purego

package kernels

//go:noescape
func addWidened64AVX2(y *float64, x *float32, n int)

// addWidened64Vec does AddWidened64 for the leading whole 4-element vectors
// (AVX2, also on AVX-512 machines: the loop is bound by loads and stores).
func addWidened64Vec(y []float64, x []float32) (done int) {
	n := len(y) &^ 3
	if n == 0 || CurrentISA() < AVX2 {
		return 0
	}
	addWidened64AVX2(&y[0], &x[0], n)
	return n
}
