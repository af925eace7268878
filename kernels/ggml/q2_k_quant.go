package ggml

// Q2_K quantisation, as llama-quantize does it (ggml_quantize_chunk →
// quantize_q2_K): without importance weights quantize_row_q2_K_ref, with
// them quantize_row_q2_K_impl. The block layout is in q2_k.go.
//
// Reference: per sub-block of 16, make_qkx2_quants with weights |x|
// (levels 0..3, 16 search steps from -0.5 by 0.1, absolute error); the
// sixteen scales and mins are rounded to 4 bits against their maxima
// (d = max/15, dmin = maxmin/15); then every value is re-rounded with the
// stored scales.
//
// Importance: per sub-block, weights imatrix·sqrt(σ² + x²) with σ² the
// super-block's mean square, make_qkx3_quants (37 steps from -0.9 by
// 0.05, squared error); the scales and mins go through make_qp_quants
// weighted by each sub-block's summed weight; then re-rounding as above.
//
// The Rounder re-rounds a value as that last step does (kSubs):
// nearest_int((x + dmin·m)/(d·sc)) clamped to 0..3.

func init() {
	registerQuantizer(Q2_K, quantizeQ2_K)
	registerRounder(Q2_K, kNewRounder(fitQ2_K, putCodeQ2_K))
}

func quantizeQ2_K(dst []byte, src []float32, imatrix []float32) {
	kQuantizeRow("q2_K", dst, src, imatrix, q2_KBytes, fitQ2_K)
}

// fitQ2_K is Q2_K's kFitFunc.
func fitQ2_K(b []byte, x, qw []float32, codes *[QK_K]uint8, s *kSubs) {
	if qw == nil {
		kScalesQ2_KRef(b, x, codes)
	} else {
		kScalesQ2_KImpl(b, x, qw, codes)
	}
	*s = kSubsQ2_K(b)
	s.requant(codes, x)
	kPack(b, codes, putCodeQ2_K)
}

// kScalesQ2_KRef is quantize_row_q2_K_ref up to the re-rounding: it
// stores d, dmin and the scales and leaves the search's levels in L.
func kScalesQ2_KRef(b []byte, x []float32, L *[QK_K]uint8) {
	var laux [16]uint8
	var weights [16]float32
	var mins, scales [QK_K / 16]float32
	const q4scale = float32(15)

	var maxScale, maxMin float32
	for j := 0; j < QK_K/16; j++ {
		xs := x[16*j : 16*j+16]
		for l, v := range xs {
			weights[l] = kAbs(v)
		}
		scales[j] = kMakeQkxQuants(false, 16, 3, xs, weights[:], L[16*j:16*j+16], &mins[j], laux[:], -0.5, 0.1, 15, true)
		if scales[j] > maxScale {
			maxScale = scales[j]
		}
		if mins[j] > maxMin {
			maxMin = mins[j]
		}
	}

	sc := b[0:16]
	if maxScale > 0 {
		iscale := q4scale / maxScale
		for j := range sc {
			sc[j] = uint8(kNearestInt(iscale * scales[j]))
		}
		kPut16(b[80:], kFP32ToFP16(maxScale/q4scale))
	} else {
		for j := range sc {
			sc[j] = 0
		}
		kPut16(b[80:], kFP32ToFP16(0))
	}
	if maxMin > 0 {
		iscale := q4scale / maxMin
		for j := range sc {
			l := kNearestInt(iscale * mins[j])
			sc[j] |= uint8(l << 4)
		}
		kPut16(b[82:], kFP32ToFP16(maxMin/q4scale))
	} else {
		kPut16(b[82:], kFP32ToFP16(0))
	}
}

// kScalesQ2_KImpl is quantize_row_q2_K_impl up to the re-rounding.
func kScalesQ2_KImpl(b []byte, x, qw []float32, L *[QK_K]uint8) {
	var laux [16]uint8
	var mins, scales, sw [QK_K / 16]float32
	var weight [16]float32
	var Ls, Lm [QK_K / 16]uint8

	sigma2 := float32(kSumSquares(x) / QK_K) // rounded: no FMA with the sum below
	for j := 0; j < QK_K/16; j++ {
		xs := x[16*j : 16*j+16]
		for l, v := range xs {
			weight[l] = qw[16*j+l] * kSqrt(sigma2+float32(v*v))
		}
		for l := 0; l < 16; l++ {
			sw[j] += weight[l]
		}
		scales[j] = kMakeQkxQuants(true, 16, 3, xs, weight[:], L[16*j:16*j+16], &mins[j], laux[:], -0.9, 0.05, 36, false)
	}
	dm := kMakeQpQuants(QK_K/16, 15, scales[:], Ls[:], sw[:])
	mm := kMakeQpQuants(QK_K/16, 15, mins[:], Lm[:], sw[:])
	kPut16(b[80:], kFP32ToFP16(dm))
	kPut16(b[82:], kFP32ToFP16(mm))
	for j := 0; j < QK_K/16; j++ {
		b[j] = Ls[j] | Lm[j]<<4
	}
}

// kSubsQ2_K reads the sub-block scales of a Q2_K super-block: the binary16
// d and dmin times the 4-bit scale and min of each sub-block of 16.
func kSubsQ2_K(b []byte) kSubs {
	s := kSubs{shift: 4, lo: 0, hi: 3}
	d := halfToFloat(le16(b[80:]))
	dmin := halfToFloat(le16(b[82:]))
	for j := 0; j < QK_K/16; j++ {
		s.dd[j] = float32(d * float32(b[j]&0x0f))
		s.dm[j] = float32(dmin * float32(b[j]>>4))
	}
	return s
}

// putCodeQ2_K stores the 2-bit code of value j: in each half of 128,
// byte l holds values l, l+32, l+64, l+96 from the low bits up.
func putCodeQ2_K(b []byte, j int, q uint8) {
	setBits(b[16:80], 32*(j/128)+j%32, uint(j%128/32)*2, 2, q)
}
