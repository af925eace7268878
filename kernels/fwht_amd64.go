//go:build !purego

package kernels

//go:noescape
func fwht16AVX512(x *float32, n int, scale float32)

//go:noescape
func fwhtRadix2AVX512(x *float32, n, h int, scale float32)

//go:noescape
func fwhtRadix4AVX512(x *float32, n, h int, scale float32)

//go:noescape
func fwht8AVX2(x *float32, n int, scale float32)

//go:noescape
func fwhtRadix2AVX2(x *float32, n, h int, scale float32)

//go:noescape
func fwhtRadix4AVX2(x *float32, n, h int, scale float32)

// fwhtAsm is fwhtGo in assembly, at the AVX512 or AVX2 level: the first
// four (three) stages inside each 16-float (8-float) register, then radix-4
// sweeps (a radix-2 one first when the number of remaining stages is odd),
// the last sweep applying the scale. It reports false below the AVX2 level
// or for len(x) under one register. The additions are those of fwhtGo, in
// the same order, so the results are identical.
func fwhtAsm(x []float32, scale float32) bool {
	n := len(x)
	isa := CurrentISA()
	var first, radix2, radix4 func(p *float32, n, h int, scale float32)
	var w int // floats a register holds
	switch {
	case isa >= AVX512 && n >= 16:
		w, radix2, radix4 = 16, fwhtRadix2AVX512, fwhtRadix4AVX512
		first = func(p *float32, n, _ int, s float32) { fwht16AVX512(p, n, s) }
	case isa >= AVX2 && n >= 8:
		w, radix2, radix4 = 8, fwhtRadix2AVX2, fwhtRadix4AVX2
		first = func(p *float32, n, _ int, s float32) { fwht8AVX2(p, n, s) }
	default:
		return false
	}
	p := &x[0]
	if n == w {
		first(p, n, 0, scale)
		return true
	}
	first(p, n, 0, 1)
	h := w
	if (bitsLen(n)-bitsLen(w))%2 == 1 {
		s := float32(1)
		if 2*h == n {
			s = scale
		}
		radix2(p, n, h, s)
		h *= 2
	}
	for ; 2*h < n; h *= 4 {
		s := float32(1)
		if 4*h == n {
			s = scale
		}
		radix4(p, n, h, s)
	}
	return true
}
