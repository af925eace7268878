package ggml

// Q8_0 quantisation as llama-quantize does it (quantize_q8_0, which
// ignores the importance matrix and runs the reference rounding): per
// block of 32, d = amax/127 rounded to binary16, and q = round(x/d) (ties
// away from zero, as roundf) with 1/d taken in float32 from the unrounded
// d.
//
// The Rounder codes a value the same way, saturating at -128 and 127
// where C's conversion to int8_t would wrap.

func init() {
	registerQuantizer(Q8_0, quantizeQ8_0)
	registerRounder(Q8_0, newRounderQ8_0)
}

func quantizeQ8_0(dst []byte, src []float32, _ []float32) {
	for i := 0; i < len(src)/32; i++ {
		fitQ8_0((*[q8_0Bytes]byte)(dst[i*q8_0Bytes:]), (*[32]float32)(src[i*32:]))
	}
}

// fitQ8_0 quantises one block and returns the 1/d its codes are taken
// with.
func fitQ8_0(b *[q8_0Bytes]byte, x *[32]float32) (id float32) {
	var amax float32
	for _, v := range x {
		if av := legacyAbs(v); !(amax > av) { // MAX(amax, fabsf(v))
			amax = av
		}
	}
	d := amax / 127
	if d != 0 {
		id = 1 / d
	}
	legacyPutHalf(b[0:2], legacyFP32ToFP16(d))
	for j, v := range x {
		b[2+j] = q8_0Code(v, id)
	}
	return id
}

// q8_0Code is roundf(v·id) as an int8_t code.
func q8_0Code(v, id float32) byte {
	return byte(legacyTruncLevel(legacyRoundf(float32(v*id)), -128, 127))
}

// rounderQ8_0 is Q8_0's Rounder: the fitted block's 1/d and stored d.
type rounderQ8_0 struct{ id, d float32 }

func newRounderQ8_0(_, _ []float32) Rounder { return new(rounderQ8_0) }

func (r *rounderQ8_0) Fit(dst []byte, _ int, x, _ []float32) {
	b := (*[q8_0Bytes]byte)(dst)
	r.id = fitQ8_0(b, (*[32]float32)(x))
	r.d = halfToFloat(le16(b[0:]))
}

func (r *rounderQ8_0) Round(dst []byte, j int, x float32) float32 {
	q := q8_0Code(x, r.id)
	dst[2+j] = q
	return float32(int8(q)) * r.d
}
