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
//
// The Rounder re-rounds a value as that last step does (kSubs):
// nearest_int(x/(d·sc)) clamped to -32..31.

func init() {
	registerQuantizer(Q6_K, quantizeQ6_K)
	registerRounder(Q6_K, kNewRounder(fitQ6_K, putCodeQ6_K))
}

func quantizeQ6_K(dst []byte, src []float32, imatrix []float32) {
	kQuantizeRow("q6_K", dst, src, imatrix, q6_KBytes, fitQ6_K)
}

// fitQ6_K is Q6_K's kFitFunc.
func fitQ6_K(b []byte, x, qw []float32, codes *[QK_K]uint8, s *kSubs) {
	var L [QK_K]int8
	if kScalesQ6_K(b, x, qw, &L) {
		for j, l := range L {
			codes[j] = uint8(l)
		}
	} else {
		for k := range b {
			b[k] = 0
		}
		kPut16(b[208:], kFP32ToFP16(0))
		*codes = [QK_K]uint8{}
	}
	*s = kSubsQ6_K(b)
	s.requant(codes, x)
	kPack(b, codes, putCodeQ6_K)
}

// kScalesQ6_K is quantize_row_q6_K_ref/_impl up to the re-rounding: it
// stores d and the scales and leaves the search's levels (offset by 32)
// in L; false for a super-block whose scales are all (near) zero, which
// it leaves to the caller.
func kScalesQ6_K(b []byte, x, qw []float32, L *[QK_K]int8) bool {
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
		return false
	}
	sc := b[192:208]
	iscale := float32(-128) / maxScale
	kPut16(b[208:], kFP32ToFP16(1/iscale))
	for ib := range sc {
		sc[ib] = uint8(int8(min(127, kNearestInt(iscale*scales[ib]))))
	}
	return true
}

// kSubsQ6_K reads the sub-block scales of a Q6_K super-block: the binary16
// d times each sub-block's int8 scale.
func kSubsQ6_K(b []byte) kSubs {
	s := kSubs{shift: 4, lo: -32, hi: 31}
	d := halfToFloat(le16(b[208:]))
	for j, sc := range b[192:208] {
		s.dd[j] = float32(d * float32(int8(sc)))
	}
	return s
}

// putCodeQ6_K stores the 6-bit code of value j = 128h + 32k + l: its low
// nibble in ql byte 64h + 32(k%2) + l (the high nibble for k >= 2), its
// top 2 bits at bits 2k of qh byte 32h + l.
func putCodeQ6_K(b []byte, j int, q uint8) {
	h, k, l := j/128, j%128/32, j%32
	setBits(b[0:128], 64*h+32*(k%2)+l, uint(k/2)*4, 4, q)
	setBits(b[128:192], 32*h+l, uint(k)*2, 2, q>>4)
}
