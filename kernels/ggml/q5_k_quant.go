package ggml

// Q5_K quantisation, as llama-quantize does it (ggml_quantize_chunk →
// quantize_q5_K): without importance weights quantize_row_q5_K_ref, with
// them quantize_row_q5_K_impl. The block layout is in q5_k.go.
//
// The scale search is Q4_K's (kScalesRefQ45, kScalesImplQ45 in
// q4_k_quant.go) with levels 0..31; the reference search takes 16 steps
// from -0.5 by 0.1 instead of Q4_K's 21 from -1.

func init() { registerQuantizer(Q5_K, quantizeQ5_K) }

func quantizeQ5_K(dst []byte, src []float32, imatrix []float32) {
	nb := kCheckRow("q5_K", dst, src, imatrix, q5_KBytes)
	for i := 0; i < nb; i++ {
		x := src[i*QK_K : (i+1)*QK_K]
		b := dst[i*q5_KBytes : (i+1)*q5_KBytes]
		var L [QK_K]uint8
		if imatrix == nil {
			kScalesRefQ45(b, x, &L, 31, -0.5, 0.1, 15)
		} else {
			kScalesImplQ45(b, x, imatrix[i*QK_K:(i+1)*QK_K], &L, 31, true)
		}
		// Bit 4 of value 64c + l goes to bit 2c of qh[l], of value
		// 64c + 32 + l to bit 2c+1; the low nibbles pack as Q4_K's.
		qh := b[16:48]
		ql := b[48:176]
		for k := range qh {
			qh[k] = 0
		}
		m1, m2 := uint8(1), uint8(2)
		for n := 0; n < QK_K; n += 64 {
			for j := 0; j < 32; j++ {
				l1 := L[n+j]
				if l1 > 15 {
					l1 -= 16
					qh[j] |= m1
				}
				l2 := L[n+j+32]
				if l2 > 15 {
					l2 -= 16
					qh[j] |= m2
				}
				ql[n/2+j] = l1 | l2<<4
			}
			m1 <<= 2
			m2 <<= 2
		}
	}
}
