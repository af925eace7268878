package ggml

import "math"

// Q4_1 quantisation as llama-quantize does it (quantize_q4_1).
//
// Without importance weights, quantize_row_q4_1_ref: per block of 32,
// m = min, d = (max-min)/15, q = min(15, trunc((x-min)/d + 0.5)) with 1/d
// from the unrounded d and the unrounded min.
//
// With them, quantize_row_q4_1_impl: weights imatrix[j]·sqrt(sigma2 + x²)
// (sigma2 the row's mean square) and make_qkx3_quants(nmax 15) fits
// scale and minimum by weighted least squares.

func init() { registerQuantizer(Q4_1, quantizeQ4_1) }

func quantizeQ4_1(dst []byte, src []float32, imatrix []float32) {
	nb := len(src) / 32
	if imatrix == nil {
		for i := 0; i < nb; i++ {
			b := (*[q4_1Bytes]byte)(dst[i*q4_1Bytes:])
			x := (*[32]float32)(src[i*32:])
			min, id := legacyMinMaxRef(b[0:4], x, 15)
			for j := 0; j < 16; j++ {
				q0 := legacyMin15(int8(legacyTrunc(float32((x[j]-min)*id) + 0.5)))
				q1 := legacyMin15(int8(legacyTrunc(float32((x[j+16]-min)*id) + 0.5)))
				b[4+j] = q0 | q1<<4
			}
		}
		return
	}
	sigma2 := legacySigma2(src)
	var w [32]float32
	var L [32]uint8
	for i := 0; i < nb; i++ {
		b := (*[q4_1Bytes]byte)(dst[i*q4_1Bytes:])
		x := src[i*32 : i*32+32]
		legacyBlockWeights(&w, x, imatrix[i*32:], sigma2)
		d, negMin := legacyMakeQkx3Quants(15, x, &L, &w)
		legacyPutHalf(b[0:2], legacyFP32ToFP16(d))
		legacyPutHalf(b[2:4], legacyFP32ToFP16(-negMin))
		legacyPackNibbles(b[4:20], &L)
	}
}

// legacyMin15 is (uint8_t)MIN(15, q) for an int8_t q.
func legacyMin15(q int8) uint8 {
	return uint8(min(15, int(q)))
}

// legacyMinMaxRef is the common start of quantize_row_q4_1_ref and
// quantize_row_q5_1_ref: the block's min and max, d = (max-min)/nmax;
// it stores d and min as binary16 in dm[0:2] and dm[2:4] and returns min
// and 1/d (0 when d is 0).
func legacyMinMaxRef(dm []byte, x *[32]float32, nmax int) (min, id float32) {
	min = math.MaxFloat32
	max := float32(-math.MaxFloat32)
	for _, v := range x {
		if v < min {
			min = v
		}
		if v > max {
			max = v
		}
	}
	d := (max - min) / float32(nmax)
	if d != 0 {
		id = 1 / d
	}
	legacyPutHalf(dm[0:2], legacyFP32ToFP16(d))
	legacyPutHalf(dm[2:4], legacyFP32ToFP16(min))
	return min, id
}
