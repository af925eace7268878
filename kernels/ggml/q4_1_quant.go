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
	legacyQuantizeRow(dst, src, imatrix, q4_1Bytes, fitQ4_1)
}

// fitQ4_1 is Q4_1's legacyFitFunc.
func fitQ4_1(dst []byte, x *[32]float32, qw []float32, sigma2 float32) legacyLevels {
	b := (*[q4_1Bytes]byte)(dst)
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
			L[j] = lv.truncCode(v)
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

// rounderQ4_1 is Q4_1's Rounder.
type rounderQ4_1 struct{ legacyRounder }

func newRounderQ4_1(row, _ []float32) Rounder {
	return &rounderQ4_1{legacyNewRounder(row, fitQ4_1, true)}
}

func (r *rounderQ4_1) Round(dst []byte, j int, x float32) float32 {
	q := r.lv.code(x)
	legacyPutNibble(dst[4:20], j, q)
	return float32(float32(q)*r.d) + r.m
}
