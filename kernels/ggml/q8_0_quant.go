package ggml

// Q8_0 quantisation as llama-quantize does it (quantize_q8_0, which
// ignores the importance matrix and runs the reference rounding): per
// block of 32, d = amax/127 rounded to binary16, and q = round(x/d)
// (ties away from zero, as roundf) with 1/d taken in float32 from the
// unrounded d.

func init() { registerQuantizer(Q8_0, quantizeQ8_0) }

func quantizeQ8_0(dst []byte, src []float32, _ []float32) {
	nb := len(src) / 32
	for i := 0; i < nb; i++ {
		x := (*[32]float32)(src[i*32:])
		b := (*[q8_0Bytes]byte)(dst[i*q8_0Bytes:])
		var amax float32
		for _, v := range x {
			if av := legacyAbs(v); !(amax > av) { // MAX(amax, fabsf(v))
				amax = av
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		legacyPutHalf(b[0:2], legacyFP32ToFP16(d))
		for j, v := range x {
			b[2+j] = byte(legacyTrunc(legacyRoundf(float32(v * id))))
		}
	}
}
