package ggml

// Q5_0 quantisation as llama-quantize does it (quantize_q5_0).
//
// Without importance weights, quantize_row_q5_0_ref: per block of 32,
// max the value of largest magnitude, d = max/-16, and
// q = min(31, trunc(x/d + 16.5)) with 1/d from the unrounded d.
//
// With them, quantize_row_q5_0_impl: weights imatrix[j]·sqrt(sigma2 + x²)
// (sigma2 the row's mean square) and make_qx_quants(nmax 16), whose codes
// are nearest_int(x·iscale) + 16 of the winning candidate inverse scale.
//
// The low 4 bits of value j go into qs as in Q4_0, its fifth bit into bit
// j of qh. The Rounder codes a value as the block's quantiser coded its
// values (legacyLevels).

func init() {
	registerQuantizer(Q5_0, quantizeQ5_0)
	registerRounder(Q5_0, newRounderQ5_0)
}

func quantizeQ5_0(dst []byte, src []float32, imatrix []float32) {
	legacyQuantizeRow(dst, src, imatrix, q5_0Bytes, fitQ5_0)
}

// fitQ5_0 is Q5_0's legacyFitFunc (legacyFitSym in q4_0_quant.go).
func fitQ5_0(dst []byte, x *[32]float32, qw []float32, sigma2 float32) legacyLevels {
	b := (*[q5_0Bytes]byte)(dst)
	var L [32]uint8
	lv := legacyFitSym(b[0:2], x, qw, sigma2, 16, &L)
	legacyPutLE32(b[2:6], legacyPackQ5(b[6:22], &L))
	return lv
}

// rounderQ5_0 is Q5_0's Rounder.
type rounderQ5_0 struct{ legacyRounder }

func newRounderQ5_0(row, _ []float32) Rounder {
	return &rounderQ5_0{legacyNewRounder(row, fitQ5_0, false)}
}

func (r *rounderQ5_0) Round(dst []byte, j int, x float32) float32 {
	q := r.lv.code(x)
	legacyPutQ5(dst[2:6], dst[6:22], j, q)
	return float32(int(q)-16) * r.d
}
