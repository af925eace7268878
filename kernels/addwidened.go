package kernels

// AddWidened64 computes y[i] += float64(x[i]) for i < len(y) (x at least as
// long): the float32 widened exactly, one rounding per element, so the
// vector code gives the scalar loop's bits. Calibration statistics
// accumulate each batch's float32 gram and inputs this way.
func AddWidened64(y []float64, x []float32) {
	x = x[:len(y)]
	done := addWidened64Vec(y, x)
	y, x = y[done:], x[done:]
	for i := range y {
		y[i] += float64(x[i])
	}
}
