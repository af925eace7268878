package kernels

import "math"

// Exp32 is a float32 exponential accurate to about 1 ulp over the float32
// range (Cody-Waite range reduction to |r| <= ln2/2 and a degree-6
// polynomial), several times faster than math.Exp. exp(x) underflows to 0
// below -87.34 and overflows to +Inf above 88.72.
//
// Exp32 is the scalar reference of the vector kernels behind ExpInPlace,
// SiLU, SiLUMul, SoftmaxInPlace and LogSumExp (AVX-512 and AVX2 on amd64),
// which run the same algorithm with fused multiply-adds and may differ from
// it in the last bit; both stay within 2 ulp of the exact exponential.
func Exp32(x float32) float32 {
	switch {
	case x > 88.72283:
		return float32(math.Inf(1))
	case x < -87.33654:
		return 0
	case x != x:
		return x
	}
	const (
		log2e = 1.44269504088896341
		c1    = 0.693359375
		c2    = -2.12194440e-4
	)
	fx := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - fx*c1
	r -= fx * c2
	z := r * r
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*z + r + 1
	// y·2^fx by adding fx to y's exponent field: exact, and unlike a
	// multiplication by 2^fx it does not overflow for fx = 128 (x above
	// 88.38, where y < 1). On the range kept the result is always normal.
	return math.Float32frombits(math.Float32bits(y) + uint32(int32(fx))<<23)
}

var negInf32 = float32(math.Inf(-1))

// ExpInPlace replaces every x[i] by exp(x[i]).
func ExpInPlace(x []float32) {
	_, i := expShiftVec(x, 0)
	for ; i < len(x); i++ {
		x[i] = Exp32(x[i])
	}
}

// SiLU replaces every x[i] by x[i] * sigmoid(x[i]) (also called swish).
func SiLU(x []float32) {
	for i := siluVec(x); i < len(x); i++ {
		v := x[i]
		x[i] = v / (1 + Exp32(-v))
	}
}

// SiLUMul computes x[i] *= silu(gate[i]) (Mamba2's gate before its norm).
func SiLUMul(x, gate []float32) {
	gate = gate[:len(x)]
	for i := siluMulVec(x, gate); i < len(x); i++ {
		g := gate[i]
		x[i] *= g / (1 + Exp32(-g))
	}
}

// ReLU2 replaces every x[i] by max(x[i], 0)^2 (squared ReLU).
func ReLU2(x []float32) {
	for i := relu2Vec(x); i < len(x); i++ {
		if v := x[i]; v > 0 {
			x[i] = v * v
		} else {
			x[i] = 0
		}
	}
}

// Softplus is log(1 + exp(x)) with PyTorch's default threshold: above 20 it
// returns x itself.
func Softplus(x float32) float32 {
	if x > 20 {
		return x
	}
	return float32(math.Log1p(math.Exp(float64(x))))
}

// max32 returns the largest x[i], ignoring NaNs; -Inf if there is none.
func max32(x []float32) float32 {
	m, i := maxVec(x)
	for ; i < len(x); i++ {
		if v := x[i]; v > m {
			m = v
		}
	}
	return m
}

// LogSumExp returns log(sum(exp(x))) computed stably (max-shifted),
// accumulating in float64 (the vector kernels keep float64 partial sums).
func LogSumExp(x []float32) float64 {
	m := max32(x)
	s, i := expSum64Vec(x, m)
	for ; i < len(x); i++ {
		s += float64(Exp32(x[i] - m))
	}
	return float64(m) + math.Log(s)
}

// SoftmaxInPlace replaces x by softmax(x), max-shifted for stability.
func SoftmaxInPlace(x []float32) {
	m := max32(x)
	s, i := expShiftVec(x, m)
	for ; i < len(x); i++ {
		e := Exp32(x[i] - m)
		x[i] = e
		s += e
	}
	inv := 1 / s
	for i := scaleVec(x, inv); i < len(x); i++ {
		x[i] *= inv
	}
}
