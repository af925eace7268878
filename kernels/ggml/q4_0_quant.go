package ggml

// Q4_0 quantisation as llama-quantize does it (quantize_q4_0).
//
// Without importance weights, the reference rounding of
// quantize_row_q4_0_ref: per block of 32, max is the value of largest
// magnitude (the first such), d = max/-8, and q = min(15, trunc(x/d + 8.5))
// with 1/d taken from the unrounded d, so that max itself maps to level 0.
//
// With them, quantize_row_q4_0_impl: each value's weight is
// imatrix[j]·sqrt(sigma2 + x²), sigma2 the mean square of the whole row,
// and make_qx_quants(nmax 8) picks d among 19 candidates by weighted least
// squares.

func init() { registerQuantizer(Q4_0, quantizeQ4_0) }

func quantizeQ4_0(dst []byte, src []float32, imatrix []float32) {
	nb := len(src) / 32
	if imatrix == nil {
		for i := 0; i < nb; i++ {
			quantizeBlockQ4_0Ref((*[q4_0Bytes]byte)(dst[i*q4_0Bytes:]), (*[32]float32)(src[i*32:]))
		}
		return
	}
	sigma2 := legacySigma2(src)
	var w [32]float32
	var L [32]uint8
	for i := 0; i < nb; i++ {
		b := (*[q4_0Bytes]byte)(dst[i*q4_0Bytes:])
		x := src[i*32 : i*32+32]
		legacyBlockWeights(&w, x, imatrix[i*32:], sigma2)
		d := legacyMakeQxQuants(8, x, &L, &w)
		legacyPutHalf(b[0:2], legacyFP32ToFP16(d))
		legacyPackNibbles(b[2:18], &L)
	}
}

func quantizeBlockQ4_0Ref(b *[q4_0Bytes]byte, x *[32]float32) {
	var amax, max float32
	for _, v := range x {
		if av := legacyAbs(v); amax < av {
			amax, max = av, v
		}
	}
	d := max / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	legacyPutHalf(b[0:2], legacyFP32ToFP16(d))
	for j := 0; j < 16; j++ {
		q0 := min(15, int(int8(legacyTrunc(float32(x[j]*id)+8.5))))
		q1 := min(15, int(int8(legacyTrunc(float32(x[j+16]*id)+8.5))))
		b[2+j] = uint8(q0) | uint8(q1)<<4
	}
}
