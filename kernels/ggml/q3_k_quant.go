package ggml

// Q3_K quantisation, as llama-quantize does it (ggml_quantize_chunk →
// quantize_q3_K): without importance weights quantize_row_q3_K_ref, with
// them quantize_row_q3_K_impl. The block layout is in q3_k.go.
//
// Reference: per sub-block of 16, make_q3_quants (levels -4..3, refined
// with weights x²); the sixteen signed scales are rounded to 6 bits
// against the one of largest magnitude (d = -max/32); then every value is
// re-rounded with the stored scales.
//
// Importance: per sub-block, weights imatrix·sqrt(2σ² + x²) (σ² the
// super-block's mean square) and make_qx_quants; the scales are themselves
// quantised by make_qx_quants (levels -32..31) weighted by each
// sub-block's summed weight; then re-rounding as above.

func init() { registerQuantizer(Q3_K, quantizeQ3_K) }

func quantizeQ3_K(dst []byte, src []float32, imatrix []float32) {
	nb := kCheckRow("q3_K", dst, src, imatrix, q3_KBytes)
	for i := 0; i < nb; i++ {
		x := src[i*QK_K : (i+1)*QK_K]
		b := dst[i*q3_KBytes : (i+1)*q3_KBytes]
		if imatrix == nil {
			kQuantizeBlockQ3_KRef(b, x)
		} else {
			kQuantizeBlockQ3_KImpl(b, x, imatrix[i*QK_K:(i+1)*QK_K])
		}
	}
}

func kQuantizeBlockQ3_KRef(b []byte, x []float32) {
	var L [QK_K]int8
	var scales [QK_K / 16]float32

	var maxScale, amax float32
	for j := 0; j < QK_K/16; j++ {
		scales[j] = kMakeQ3Quants(16, 4, x[16*j:16*j+16], L[16*j:16*j+16], true)
		if s := kAbs(scales[j]); s > amax {
			amax = s
			maxScale = scales[j]
		}
	}

	sc := b[96:108]
	for k := range sc {
		sc[k] = 0
	}
	if maxScale != 0 {
		iscale := float32(-32) / maxScale
		for j := 0; j < QK_K/16; j++ {
			l := int8(kNearestInt(iscale * scales[j]))
			l = int8(kClamp(int32(l), -32, 31) + 32)
			kPutScaleQ3(sc, j, l)
		}
		kPut16(b[108:], kFP32ToFP16(1/iscale))
	} else {
		kPut16(b[108:], kFP32ToFP16(0))
	}
	kRequantQ3_K(b, x, &L)
	kPackQ3(b, &L)
}

func kQuantizeBlockQ3_KImpl(b []byte, x, qw []float32) {
	var L [QK_K]int8
	var scales, sw [QK_K / 16]float32
	var weight [16]float32
	var Ls [QK_K / 16]int8

	sigma2 := float32(2 * kSumSquares(x) / QK_K) // rounded: no FMA with the sum below
	for j := 0; j < QK_K/16; j++ {
		xs := x[16*j : 16*j+16]
		for l, v := range xs {
			weight[l] = qw[16*j+l] * kSqrt(sigma2+float32(v*v))
		}
		var sumw float32
		for _, w := range weight {
			sumw += w
		}
		sw[j] = sumw
		scales[j] = kMakeQxQuants(16, 4, xs, L[16*j:16*j+16], 1, weight[:])
	}

	sc := b[96:108]
	for k := range sc {
		sc[k] = 0
	}
	dBlock := kMakeQxQuants(QK_K/16, 32, scales[:], Ls[:], 1, sw[:])
	for j := 0; j < QK_K/16; j++ {
		kPutScaleQ3(sc, j, Ls[j])
	}
	kPut16(b[108:], kFP32ToFP16(dBlock))
	kRequantQ3_K(b, x, &L)
	kPackQ3(b, &L)
}

// kPutScaleQ3 stores sub-block j's 6-bit scale l (offset by 32) in Q3_K's
// 12-byte field: low nibbles in bytes 0-7 (j < 8 low half, else high half
// of byte j-8), the top 2 bits in byte 8 + j%4 at bit 2·(j/4). Zeroed
// first by the caller.
func kPutScaleQ3(sc []byte, j int, l int8) {
	if j < 8 {
		sc[j] = uint8(l & 0x0f)
	} else {
		sc[j-8] |= uint8((l & 0x0f) << 4)
	}
	l >>= 4
	sc[j%4+8] |= uint8(int32(l) << (2 * (j / 4)))
}

// kRequantQ3_K re-rounds every sub-block of 16 whose stored scale is
// non-zero with the stored d and 6-bit scale: levels -4..3, kept offset
// by 4 in L.
func kRequantQ3_K(b []byte, x []float32, L *[QK_K]int8) {
	sc := b[96:108]
	d := halfToFloat(le16(b[108:]))
	for j := 0; j < QK_K/16; j++ {
		var s int8
		if j < 8 {
			s = int8(sc[j] & 0x0f)
		} else {
			s = int8(sc[j-8] >> 4)
		}
		s = int8((int32(s) | int32(sc[8+j%4]>>(2*(j/4))&3)<<4) - 32)
		dd := float32(d * float32(s))
		if dd == 0 {
			continue
		}
		for ii := 0; ii < 16; ii++ {
			l := kNearestInt(x[16*j+ii] / dd)
			L[16*j+ii] = int8(kClamp(l, -4, 3) + 4)
		}
	}
}

// kPackQ3 writes hmask (bit 2 of each level: value v sets bit v/32 of
// hmask byte v%32) and qs (the low 2 bits, packed as Q2_K's).
func kPackQ3(b []byte, L *[QK_K]int8) {
	hmask := b[0:32]
	for k := range hmask {
		hmask[k] = 0
	}
	m := 0
	hm := uint8(1)
	for j := 0; j < QK_K; j++ {
		if L[j] > 3 {
			hmask[m] |= hm
			L[j] -= 4
		}
		m++
		if m == QK_K/8 {
			m = 0
			hm <<= 1
		}
	}
	qs := b[32:96]
	for j := 0; j < QK_K; j += 128 {
		for l := 0; l < 32; l++ {
			qs[j/4+l] = uint8(L[j+l] | L[j+l+32]<<2 | L[j+l+64]<<4 | L[j+l+96]<<6)
		}
	}
}
