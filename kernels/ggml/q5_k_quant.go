package ggml

// Q5_K quantisation, as llama-quantize does it (ggml_quantize_chunk →
// quantize_q5_K): without importance weights quantize_row_q5_K_ref, with
// them quantize_row_q5_K_impl. The block layout is in q5_k.go.
//
// The scale search is Q4_K's (kFitQ45 in q4_k_quant.go) with levels
// 0..31; the reference search takes 16 steps from -0.5 by 0.1 instead of
// Q4_K's 21 from -1, and the importance path clamps the 6-bit scales and
// mins to 63, which Q4_K's does not (see kScalesImplQ45).
//
// The Rounder re-rounds a value as the last step does (kSubs):
// nearest_int((x + dmin·m)/(d·sc)) clamped to 0..31.

func init() {
	registerQuantizer(Q5_K, quantizeQ5_K)
	registerRounder(Q5_K, kNewRounder(fitQ5_K, putCodeQ5_K))
}

func quantizeQ5_K(dst []byte, src []float32, imatrix []float32) {
	kQuantizeRow("q5_K", dst, src, imatrix, q5_KBytes, fitQ5_K)
}

// fitQ5_K is Q5_K's kFitFunc (kFitQ45 in q4_k_quant.go).
func fitQ5_K(b []byte, x, qw []float32, codes *[QK_K]uint8, s *kSubs) {
	kFitQ45(b, x, qw, codes, s, kQ45{nmax: 31, rmin: -0.5, rdelta: 0.1, nstep: 15, clamp63: true})
	kPack(b, codes, putCodeQ5_K)
}

// putCodeQ5_K stores the 5-bit code of value j: its low nibble in qs as
// Q4_K's, its bit 4 in bit j/32 of qh byte j%32.
func putCodeQ5_K(b []byte, j int, q uint8) {
	setBits(b[48:176], 32*(j/64)+j%32, uint(j/32%2)*4, 4, q)
	setBits(b[16:48], j%32, uint(j/32), 1, q>>4)
}
