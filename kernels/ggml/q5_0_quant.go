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
	var sigma2 float32
	if imatrix != nil {
		sigma2 = legacySigma2(src)
	}
	for i := 0; i < len(src)/32; i++ {
		var qw []float32
		if imatrix != nil {
			qw = imatrix[i*32 : i*32+32]
		}
		fitQ5_0((*[q5_0Bytes]byte)(dst[i*q5_0Bytes:]), (*[32]float32)(src[i*32:]), qw, sigma2)
	}
}

// fitQ5_0 quantises one block, with the row's sigma2 when weighted, and
// returns how it coded the values.
func fitQ5_0(b *[q5_0Bytes]byte, x *[32]float32, qw []float32, sigma2 float32) legacyLevels {
	var L [32]uint8
	var d float32
	var lv legacyLevels
	if qw == nil {
		d, lv = legacySymRef(x, 16)
		for j, v := range x {
			L[j] = lv.code(v)
		}
	} else {
		var w [32]float32
		legacyBlockWeights(&w, x[:], qw, sigma2)
		d, lv = legacyMakeQxQuants(16, x[:], &L, &w)
	}
	legacyPutHalf(b[0:2], legacyFP32ToFP16(d))
	legacyPutLE32(b[2:6], legacyPackQ5(b[6:22], &L))
	return lv
}

// rounderQ5_0 is Q5_0's Rounder: the row's sigma2 and the fitted block's
// levels and stored d.
type rounderQ5_0 struct {
	sigma2, d float32
	lv        legacyLevels
}

func newRounderQ5_0(row, _ []float32) Rounder { return &rounderQ5_0{sigma2: legacySigma2(row)} }

func (r *rounderQ5_0) Fit(dst []byte, _ int, x, imatrix []float32) {
	b := (*[q5_0Bytes]byte)(dst)
	r.lv = fitQ5_0(b, (*[32]float32)(x), imatrix, r.sigma2)
	r.d = halfToFloat(le16(b[0:]))
}

func (r *rounderQ5_0) Round(dst []byte, j int, x float32) float32 {
	q := r.lv.code(x)
	legacyPutQ5(dst[2:6], dst[6:22], j, q)
	return float32(int(q)-16) * r.d
}
