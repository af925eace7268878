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
// scale and minimum by weighted least squares; the codes are
// nearest_int(iscale·(x - min)) of the winning candidate, whose iscale
// and min are not the stored d and m.
//
// The Rounder codes a value as the block's quantiser coded its values
// (legacyLevels).

func init() {
	registerQuantizer(Q4_1, quantizeQ4_1)
	registerRounder(Q4_1, newRounderQ4_1)
}

func quantizeQ4_1(dst []byte, src []float32, imatrix []float32) {
	var sigma2 float32
	if imatrix != nil {
		sigma2 = legacySigma2(src)
	}
	for i := 0; i < len(src)/32; i++ {
		var qw []float32
		if imatrix != nil {
			qw = imatrix[i*32 : i*32+32]
		}
		fitQ4_1((*[q4_1Bytes]byte)(dst[i*q4_1Bytes:]), (*[32]float32)(src[i*32:]), qw, sigma2)
	}
}

// fitQ4_1 quantises one block, with the row's sigma2 when weighted, and
// returns how it coded the values.
func fitQ4_1(b *[q4_1Bytes]byte, x *[32]float32, qw []float32, sigma2 float32) legacyLevels {
	var L [32]uint8
	lv := legacyFitMin(b[0:4], x, qw, sigma2, 15, &L)
	legacyPackNibbles(b[4:20], &L)
	return lv
}

// legacyFitMin is the common part of Q4_1's and Q5_1's quantisers (nmax
// 15 or 31): it stores d and m in dm[0:4] and fills the block's codes L.
func legacyFitMin(dm []byte, x *[32]float32, qw []float32, sigma2 float32, nmax int, L *[32]uint8) legacyLevels {
	if qw == nil {
		lv := legacyMinMaxRef(dm, x, nmax)
		for j, v := range x {
			L[j] = lv.code(v)
		}
		return lv
	}
	var w [32]float32
	legacyBlockWeights(&w, x[:], qw, sigma2)
	d, negMin, lv := legacyMakeQkx3Quants(nmax, x[:], L, &w)
	legacyPutHalf(dm[0:2], legacyFP32ToFP16(d))
	legacyPutHalf(dm[2:4], legacyFP32ToFP16(-negMin))
	return lv
}

// legacyMinMaxRef is the common start of quantize_row_q4_1_ref and
// quantize_row_q5_1_ref: the block's min and max, d = (max-min)/nmax;
// it stores d and min as binary16 in dm[0:2] and dm[2:4] and returns the
// levels trunc((x-min)/d + 0.5) in 0..nmax, 1/d from the unrounded d (0
// when d is 0).
func legacyMinMaxRef(dm []byte, x *[32]float32, nmax int) legacyLevels {
	min := float32(math.MaxFloat32)
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
	lv := legacyLevels{min: min, bias: 0.5, lo: 0, hi: int32(nmax)}
	if d != 0 {
		lv.id = 1 / d
	}
	legacyPutHalf(dm[0:2], legacyFP32ToFP16(d))
	legacyPutHalf(dm[2:4], legacyFP32ToFP16(min))
	return lv
}

// rounderQ4_1 is Q4_1's Rounder: the row's sigma2 and the fitted block's
// levels and stored d and m.
type rounderQ4_1 struct {
	sigma2, d, m float32
	lv           legacyLevels
}

func newRounderQ4_1(row, _ []float32) Rounder { return &rounderQ4_1{sigma2: legacySigma2(row)} }

func (r *rounderQ4_1) Fit(dst []byte, _ int, x, imatrix []float32) {
	b := (*[q4_1Bytes]byte)(dst)
	r.lv = fitQ4_1(b, (*[32]float32)(x), imatrix, r.sigma2)
	r.d, r.m = halfToFloat(le16(b[0:])), halfToFloat(le16(b[2:]))
}

func (r *rounderQ4_1) Round(dst []byte, j int, x float32) float32 {
	q := r.lv.code(x)
	legacyPutNibble(dst[4:20], j, q)
	return float32(float32(q)*r.d) + r.m
}
