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
	var sigma2 float32
	if imatrix != nil {
		sigma2 = legacySigma2(src)
	}
	for i := 0; i < len(src)/32; i++ {
		var qw []float32
		if imatrix != nil {
			qw = imatrix[i*32 : i*32+32]
		}
		fitQ4_0((*[q4_0Bytes]byte)(dst[i*q4_0Bytes:]), (*[32]float32)(src[i*32:]), qw, sigma2)
	}
}

// fitQ4_0 quantises one block, with the row's sigma2 when weighted, and
// returns how it coded the values.
func fitQ4_0(b *[q4_0Bytes]byte, x *[32]float32, qw []float32, sigma2 float32) legacyLevels {
	var L [32]uint8
	var d float32
	var lv legacyLevels
	if qw == nil {
		d, lv = legacySymRef(x, 8)
		for j, v := range x {
			L[j] = lv.code(v)
		}
	} else {
		var w [32]float32
		legacyBlockWeights(&w, x[:], qw, sigma2)
		d, lv = legacyMakeQxQuants(8, x[:], &L, &w)
	}
	legacyPutHalf(b[0:2], legacyFP32ToFP16(d))
	legacyPackNibbles(b[2:18], &L)
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

// rounderQ4_0 is Q4_0's Rounder: the row's sigma2 and the fitted block's
// levels and stored d.
type rounderQ4_0 struct {
	sigma2, d float32
	lv        legacyLevels
}

func newRounderQ4_0(row, _ []float32) Rounder { return &rounderQ4_0{sigma2: legacySigma2(row)} }

func (r *rounderQ4_0) Fit(dst []byte, _ int, x, imatrix []float32) {
	b := (*[q4_0Bytes]byte)(dst)
	r.lv = fitQ4_0(b, (*[32]float32)(x), imatrix, r.sigma2)
	r.d = halfToFloat(le16(b[0:]))
}

func (r *rounderQ4_0) Round(dst []byte, j int, x float32) float32 {
	q := r.lv.code(x)
	legacyPutNibble(dst[2:18], j, q)
	return float32(int(q)-8) * r.d
}
