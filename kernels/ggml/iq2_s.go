package ggml

// IQ2_S: 2.5625 bits per weight. A block of 256 values is 82 bytes:
//
//	d       binary16 super-block scale (bytes 0-1)
//	qs      32 bytes (bytes 2-33): the low 8 bits of each run of 8 values'
//	        10-bit iq2s_grid index
//	signs   32 bytes (bytes 34-65): one sign byte per run, bit j set when
//	        value j is negative (no parity trick here)
//	qh      8 bytes (bytes 66-73), one per group of 32: bits 2l..2l+1 are
//	        bits 8-9 of run l's grid index
//	scales  8 bytes (bytes 74-81), one per group: low nibble for the first
//	        16 values, high nibble for the last 16
//
// Value j of run l of group ib is
//
//	db * iq2s_grid[qs | (qh>>2l&3)<<8][j] * (±1 from signs bit j),
//	db = d * (0.5 + nibble) * 0.25
//
// in float32, rounding after each product, as llama.cpp's
// dequantize_row_iq2_s.

const iq2_SBytes = 2 + QK_K/4 + QK_K/16

func init() { register(IQ2_S, dequantizeIQ2_S) }

func dequantizeIQ2_S(dst []float32, src []byte) {
	nb := len(src) / iq2_SBytes
	dst = dst[:nb*QK_K]
	for i := range nb {
		b := src[i*iq2_SBytes : (i+1)*iq2_SBytes]
		y := dst[i*QK_K : (i+1)*QK_K]
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		qs := b[2 : 2+QK_K/8]
		signs := b[2+QK_K/8 : 2+QK_K/4]
		qh := b[2+QK_K/4 : 2+QK_K/4+QK_K/32]
		scales := b[2+QK_K/4+QK_K/32 : 2+QK_K/4+QK_K/16]
		for ib := range QK_K / 32 {
			sc := scales[ib]
			db := [2]float32{
				float32(d*(0.5+float32(sc&0xf))) * 0.25,
				float32(d*(0.5+float32(sc>>4))) * 0.25,
			}
			h := uint(qh[ib])
			for l := range 4 {
				idx := uint(qs[4*ib+l]) | (h>>(2*l)&3)<<8
				g := &iq2sGridF[idx&1023]
				iqPut8f((*[8]float32)(y[32*ib+8*l:]), db[l/2], g, &iqSigns[signs[4*ib+l]])
			}
		}
	}
}
