//go:build !purego

package kernels

//go:noescape
func fwht16AVX512(x *float32, n int, scale float32)

//go:noescape
func fwhtRadix2AVX512(x *float32, n, h int, scale float32)

//go:noescape
func fwhtRadix4AVX512(x *float32, n, h int, scale float32)

// fwhtAsm is fwhtGo with AVX-512 (the caller checks the ISA level): the
// first four stages inside each 16-float register, then radix-4 sweeps (a
// radix-2 one first when the number of remaining stages is odd), the last
// sweep applying the scale. It reports false for len(x) < 16. The additions
// are those of fwhtGo, in the same order, so the results are identical.
func fwhtAsm(x []float32, scale float32) bool {
	n := len(x)
	if n < 16 {
		return false
	}
	p := &x[0]
	if n == 16 {
		fwht16AVX512(p, n, scale)
		return true
	}
	fwht16AVX512(p, n, 1)
	h := 16
	if (bitsLen(n)-1-4)%2 == 1 {
		s := float32(1)
		if 2*h == n {
			s = scale
		}
		fwhtRadix2AVX512(p, n, h, s)
		h = 32
	}
	for ; 2*h < n; h *= 4 {
		s := float32(1)
		if 4*h == n {
			s = scale
		}
		fwhtRadix4AVX512(p, n, h, s)
	}
	return true
}
