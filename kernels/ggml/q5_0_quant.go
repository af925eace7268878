package ggml

// Q5_0 quantisation as llama-quantize does it (quantize_q5_0).
//
// Without importance weights, quantize_row_q5_0_ref: per block of 32,
// max the value of largest magnitude, d = max/-16, and
// q = min(31, trunc(x/d + 16.5)).
//
// With them, quantize_row_q5_0_impl: weights imatrix[j]·sqrt(sigma2 + x²)
// (sigma2 the row's mean square) and make_qx_quants(nmax 16).
//
// The low 4 bits of value j go into qs as in Q4_0, its fifth bit into bit
// j of qh.

func init() { registerQuantizer(Q5_0, quantizeQ5_0) }

func quantizeQ5_0(dst []byte, src []float32, imatrix []float32) {
	nb := len(src) / 32
	var L [32]uint8
	if imatrix == nil {
		for i := 0; i < nb; i++ {
			b := (*[q5_0Bytes]byte)(dst[i*q5_0Bytes:])
			x := (*[32]float32)(src[i*32:])
			var amax, max float32
			for _, v := range x {
				if av := legacyAbs(v); amax < av {
					amax, max = av, v
				}
			}
			d := max / -16
			var id float32
			if d != 0 {
				id = 1 / d
			}
			legacyPutHalf(b[0:2], legacyFP32ToFP16(d))
			for j, v := range x {
				L[j] = uint8(min(31, int(int8(legacyTrunc(float32(v*id)+16.5)))))
			}
			legacyPutLE32(b[2:6], legacyPackQ5(b[6:22], &L))
		}
		return
	}
	sigma2 := legacySigma2(src)
	var w [32]float32
	for i := 0; i < nb; i++ {
		b := (*[q5_0Bytes]byte)(dst[i*q5_0Bytes:])
		x := src[i*32 : i*32+32]
		legacyBlockWeights(&w, x, imatrix[i*32:], sigma2)
		d := legacyMakeQxQuants(16, x, &L, &w)
		legacyPutHalf(b[0:2], legacyFP32ToFP16(d))
		legacyPutLE32(b[2:6], legacyPackQ5(b[6:22], &L))
	}
}
