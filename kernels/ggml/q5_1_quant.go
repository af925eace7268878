package ggml

// Q5_1 quantisation as llama-quantize does it (quantize_q5_1).
//
// Without importance weights, quantize_row_q5_1_ref: per block of 32,
// m = min, d = (max-min)/31, q = trunc((x-min)/d + 0.5) (no clamp: the
// cast to uint8_t keeps the low byte; a block's own values stay in 0..31).
//
// With them, quantize_row_q5_1_impl: weights imatrix[j]·sqrt(sigma2 + x²)
// (sigma2 the row's mean square) and make_qkx3_quants(nmax 31), whose
// codes come from the winning candidate as Q4_1's.
//
// The Rounder codes a value as the block's quantiser coded its values
// (legacyLevels), clamped to 0..31.

func init() {
	registerQuantizer(Q5_1, quantizeQ5_1)
	registerRounder(Q5_1, newRounderQ5_1)
}

func quantizeQ5_1(dst []byte, src []float32, imatrix []float32) {
	legacyQuantizeRow(dst, src, imatrix, q5_1Bytes, fitQ5_1)
}

// fitQ5_1 is Q5_1's legacyFitFunc (legacyFitMin in q4_1_quant.go).
func fitQ5_1(dst []byte, x *[32]float32, qw []float32, sigma2 float32) legacyLevels {
	b := (*[q5_1Bytes]byte)(dst)
	var L [32]uint8
	lv := legacyFitMin(b[0:4], x, qw, sigma2, 31, &L)
	legacyPutLE32(b[4:8], legacyPackQ5(b[8:24], &L))
	return lv
}

// rounderQ5_1 is Q5_1's Rounder.
type rounderQ5_1 struct{ legacyRounder }

func newRounderQ5_1(row, _ []float32) Rounder {
	return &rounderQ5_1{legacyNewRounder(row, fitQ5_1, true)}
}

func (r *rounderQ5_1) Round(dst []byte, j int, x float32) float32 {
	q := r.lv.code(x)
	legacyPutQ5(dst[4:8], dst[8:24], j, q)
	return float32(float32(q)*r.d) + r.m
}
