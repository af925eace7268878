package ggml

// Q5_1 quantisation as llama-quantize does it (quantize_q5_1).
//
// Without importance weights, quantize_row_q5_1_ref: per block of 32,
// m = min, d = (max-min)/31, q = trunc((x-min)/d + 0.5) (no clamp: the
// cast to uint8_t keeps the low byte).
//
// With them, quantize_row_q5_1_impl: weights imatrix[j]·sqrt(sigma2 + x²)
// (sigma2 the row's mean square) and make_qkx3_quants(nmax 31).

func init() { registerQuantizer(Q5_1, quantizeQ5_1) }

func quantizeQ5_1(dst []byte, src []float32, imatrix []float32) {
	nb := len(src) / 32
	var L [32]uint8
	if imatrix == nil {
		for i := 0; i < nb; i++ {
			b := (*[q5_1Bytes]byte)(dst[i*q5_1Bytes:])
			x := (*[32]float32)(src[i*32:])
			min, id := legacyMinMaxRef(b[0:4], x, 31)
			for j, v := range x {
				L[j] = uint8(legacyTrunc(float32((v-min)*id) + 0.5))
			}
			legacyPutLE32(b[4:8], legacyPackQ5(b[8:24], &L))
		}
		return
	}
	sigma2 := legacySigma2(src)
	var w [32]float32
	for i := 0; i < nb; i++ {
		b := (*[q5_1Bytes]byte)(dst[i*q5_1Bytes:])
		x := src[i*32 : i*32+32]
		legacyBlockWeights(&w, x, imatrix[i*32:], sigma2)
		d, negMin := legacyMakeQkx3Quants(31, x, &L, &w)
		legacyPutHalf(b[0:2], legacyFP32ToFP16(d))
		legacyPutHalf(b[2:4], legacyFP32ToFP16(-negMin))
		legacyPutLE32(b[4:8], legacyPackQ5(b[8:24], &L))
	}
}
