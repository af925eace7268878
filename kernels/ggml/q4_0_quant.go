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
// squares; the codes are nearest_int(x·iscale) of the winning candidate
// inverse scale iscale.
//
// The Rounder codes a value as the block's quantiser coded its values:
// trunc(x/d + 8.5) with the unrounded d, or nearest_int(x·iscale) + 8.

func init() {
	registerQuantizer(Q4_0, quantizeQ4_0)
	registerRounder(Q4_0, newRounderQ4_0)
}

func quantizeQ4_0(dst []byte, src []float32, imatrix []float32) {
	legacyQuantizeRow(dst, src, imatrix, q4_0Bytes, fitQ4_0)
}

// fitQ4_0 is Q4_0's legacyFitFunc.
func fitQ4_0(dst []byte, x *[32]float32, qw []float32, sigma2 float32) legacyLevels {
	b := (*[q4_0Bytes]byte)(dst)
	var L [32]uint8
	lv := legacyFitSym(b[0:2], x, qw, sigma2, 8, &L)
	legacyPackNibbles(b[2:18], &L)
	return lv
}

// legacyFitSym is the common part of Q4_0's and Q5_0's quantisers (nmax
// 8 or 16): it stores d in d16[0:2] and fills the block's codes L.
func legacyFitSym(d16 []byte, x *[32]float32, qw []float32, sigma2 float32, nmax int, L *[32]uint8) legacyLevels {
	var d float32
	var lv legacyLevels
	if qw == nil {
		d, lv = legacySymRef(x, nmax)
		for j, v := range x {
			L[j] = lv.truncCode(v)
		}
	} else {
		var w [32]float32
		legacyBlockWeights(&w, x[:], qw, sigma2)
		d, lv = legacyMakeQxQuants(nmax, x[:], L, &w)
	}
	legacyPutHalf(d16[0:2], legacyFP32ToFP16(d))
	return lv
}

// legacySymRef is the scale of quantize_row_q4_0_ref and
// quantize_row_q5_0_ref: max the value of largest magnitude (the first
// such), d = max/-nmax; the codes are trunc(x/d + nmax + 0.5) in
// 0..2·nmax-1, 1/d taken from the unrounded d (0 when d is 0).
func legacySymRef(x *[32]float32, nmax int) (d float32, lv legacyLevels) {
	var amax, max float32
	for _, v := range x {
		if av := legacyAbs(v); amax < av {
			amax, max = av, v
		}
	}
	d = max / float32(-nmax)
	lv = legacyLevels{bias: float32(nmax) + 0.5, lo: 0, hi: int32(2*nmax - 1)}
	if d != 0 {
		lv.id = 1 / d
	}
	return d, lv
}

// rounderQ4_0 is Q4_0's Rounder.
type rounderQ4_0 struct{ legacyRounder }

func newRounderQ4_0(row, _ []float32) Rounder {
	return &rounderQ4_0{legacyNewRounder(row, fitQ4_0, false)}
}

func (r *rounderQ4_0) Round(dst []byte, j int, x float32) float32 {
	q := r.lv.code(x)
	legacyPutNibble(dst[2:18], j, q)
	return float32(int(q)-8) * r.d
}
