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
//
// The Rounder re-rounds a value as that last step does (kSubs):
// nearest_int(x/(d·sc)) clamped to -4..3. In a sub-block whose stored
// scale is 0 llama.cpp keeps the search's levels, which for the reference
// path make_q3_quants has refined one value at a time against the others
// (not a per-value rounding); all dequantise to 0 there.

func init() {
	registerQuantizer(Q3_K, quantizeQ3_K)
	registerRounder(Q3_K, kNewRounder(fitQ3_K, putCodeQ3_K))
}

func quantizeQ3_K(dst []byte, src []float32, imatrix []float32) {
	kQuantizeRow("q3_K", dst, src, imatrix, q3_KBytes, fitQ3_K)
}

// fitQ3_K is Q3_K's kFitFunc.
func fitQ3_K(b []byte, x, qw []float32, codes *[QK_K]uint8, s *kSubs) {
	var L [QK_K]int8
	if qw == nil {
		kScalesQ3_KRef(b, x, &L)
	} else {
		kScalesQ3_KImpl(b, x, qw, &L)
	}
	for j, l := range L {
		codes[j] = uint8(l)
	}
	*s = kSubsQ3_K(b)
	s.requant(codes, x)
	kPack(b, codes, putCodeQ3_K)
}

// kScalesQ3_KRef is quantize_row_q3_K_ref up to the re-rounding: it
// stores d and the scales and leaves the search's levels (offset by 4)
// in L.
func kScalesQ3_KRef(b []byte, x []float32, L *[QK_K]int8) {
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
}

// kScalesQ3_KImpl is quantize_row_q3_K_impl up to the re-rounding.
func kScalesQ3_KImpl(b []byte, x, qw []float32, L *[QK_K]int8) {
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

// kSubsQ3_K reads the sub-block scales of a Q3_K super-block: the binary16
// d times each sub-block's 6-bit scale less 32.
func kSubsQ3_K(b []byte) kSubs {
	s := kSubs{shift: 4, lo: -4, hi: 3}
	sc := q3KScales((*[12]byte)(b[96:108]))
	d := halfToFloat(le16(b[108:]))
	for j := range sc {
		s.dd[j] = float32(d * float32(sc[j]))
	}
	return s
}

// putCodeQ3_K stores the 3-bit code q of value j: its low 2 bits in qs,
// packed as Q2_K's, and its bit 2 (llama.cpp: level > 3) in bit j/32 of
// hmask byte j%32.
func putCodeQ3_K(b []byte, j int, q uint8) {
	setBits(b[32:96], 32*(j/128)+j%32, uint(j%128/32)*2, 2, q)
	setBits(b[0:32], j%32, uint(j/32), 1, q>>2)
}
