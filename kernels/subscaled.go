package kernels

// SubScaled64 computes y[i] −= a·x[i] for i < len(y) (x at least as long),
// the product rounded before the subtraction (no fused multiply-add), so
// the vector code gives the scalar loop's bits: GPTQ's error feedback.
func SubScaled64(y, x []float64, a float64) {
	x = x[:len(y)]
	done := subScaled64Vec(y, x, a)
	y, x = y[done:], x[done:]
	for i := range y {
		y[i] -= float64(a * x[i]) // float64(): rounded, never fused
	}
}
