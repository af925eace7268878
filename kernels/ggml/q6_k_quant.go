package ggml

// Q6_K quantisation, as llama-quantize does it (ggml_quantize_chunk →
// quantize_q6_K): without importance weights quantize_row_q6_K_ref, with
// them quantize_row_q6_K_impl. The block layout is in q6_k.go.
//
// Per sub-block of 16, make_qx_quants (levels -32..31, rmse_type 1:
// weights x², or the importance weights as they are, without the
// sqrt(σ² + x²) factor the other K-quants apply); the signed scales are
// rounded to int8 against the one of largest magnitude (d = -max/128);
// then every value is re-rounded with the stored scales. A super-block
// whose scales are all (near) zero is written as zeros.

func init() { registerQuantizer(Q6_K, quantizeQ6_K) }

func quantizeQ6_K(dst []byte, src []float32, imatrix []float32) {
	nb := kCheckRow("q6_K", dst, src, imatrix, q6_KBytes)
	for i := 0; i < nb; i++ {
		x := src[i*QK_K : (i+1)*QK_K]
		b := dst[i*q6_KBytes : (i+1)*q6_KBytes]
		var qw []float32
		if imatrix != nil {
			qw = imatrix[i*QK_K : (i+1)*QK_K]
		}
		kQuantizeBlockQ6_K(b, x, qw)
	}
}

func kQuantizeBlockQ6_K(b []byte, x, qw []float32) {
	var L [QK_K]int8
	var scales [QK_K / 16]float32

	var maxScale, maxAbsScale float32
	for ib := 0; ib < QK_K/16; ib++ {
		var w []float32
		if qw != nil {
			w = qw[16*ib : 16*ib+16]
		}
		scale := kMakeQxQuants(16, 32, x[16*ib:16*ib+16], L[16*ib:16*ib+16], 1, w)
		scales[ib] = scale
		if a := kAbs(scale); a > maxAbsScale {
			maxAbsScale = a
			maxScale = scale
		}
	}

	if maxAbsScale < kGroupMaxEps {
		for k := range b {
			b[k] = 0
		}
		kPut16(b[208:], kFP32ToFP16(0))
		return
	}

	sc := b[192:208]
	iscale := float32(-128) / maxScale
	kPut16(b[208:], kFP32ToFP16(1/iscale))
	for ib := range sc {
		sc[ib] = uint8(int8(min(127, kNearestInt(iscale*scales[ib]))))
	}
	d := halfToFloat(le16(b[208:]))
	for j := 0; j < QK_K/16; j++ {
		dd := float32(d * float32(int8(sc[j])))
		if dd == 0 {
			continue
		}
		for ii := 0; ii < 16; ii++ {
			l := kNearestInt(x[16*j+ii] / dd)
			L[16*j+ii] = int8(kClamp(l, -32, 31) + 32)
		}
	}

	// In each half of 128: ql[l] holds the low nibbles of values l and
	// l+64, ql[l+32] of l+32 and l+96; qh[l] the top 2 bits of l, l+32,
	// l+64, l+96 from the low bits up.
	for j := 0; j < QK_K; j += 128 {
		ql := b[j/2 : j/2+64]
		qh := b[128+j/4 : 128+j/4+32]
		for l := 0; l < 32; l++ {
			q1 := uint8(L[j+l]) & 0x0f
			q2 := uint8(L[j+l+32]) & 0x0f
			q3 := uint8(L[j+l+64]) & 0x0f
			q4 := uint8(L[j+l+96]) & 0x0f
			ql[l] = q1 | q3<<4
			ql[l+32] = q2 | q4<<4
			qh[l] = uint8(L[j+l]>>4 | (L[j+l+32]>>4)<<2 | (L[j+l+64]>>4)<<4 | (L[j+l+96]>>4)<<6)
		}
	}
}
