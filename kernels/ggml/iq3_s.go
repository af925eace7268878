package ggml

// IQ3_S: 3.4375 bits per weight. A block of 256 values is 110 bytes:
//
//	d       binary16 super-block scale (bytes 0-1)
//	qs      64 bytes (bytes 2-65): the low 8 bits of each 4-value run's
//	        9-bit iq3s_grid index
//	qh      8 bytes (bytes 66-73), one per group of 32: bit k is bit 8 of
//	        the index of the group's k-th 4-value run
//	signs   32 bytes (bytes 74-105): one byte per 8 values, bit j set when
//	        value j is negative
//	scales  4 bytes (bytes 106-109), one per 64 values: low nibble for the
//	        first group of 32, high nibble for the second
//
// Value j of 8-value run l of group ib is
//
//	db * iq3s_grid[qs[8ib+2l+j/4] | (qh>>(2l+j/4)&1)<<8][j%4] * (±1 from signs bit j),
//	db = d * (1 + 2*nibble)
//
// in float32, rounding after each product, as llama.cpp's
// dequantize_row_iq3_s.

const iq3_SBytes = 2 + QK_K/4 + QK_K/32 + QK_K/8 + QK_K/64

func init() { register(IQ3_S, dequantizeIQ3_S) }

func dequantizeIQ3_S(dst []float32, src []byte) {
	nb := len(src) / iq3_SBytes
	dst = dst[:nb*QK_K]
	for i := range nb {
		b := src[i*iq3_SBytes : (i+1)*iq3_SBytes]
		y := dst[i*QK_K : (i+1)*QK_K]
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		qs := b[2 : 2+QK_K/4]
		qh := b[2+QK_K/4 : 2+QK_K/4+QK_K/32]
		signs := b[2+QK_K/4+QK_K/32 : 2+QK_K/4+QK_K/32+QK_K/8]
		scales := b[2+QK_K/4+QK_K/32+QK_K/8 : iq3_SBytes]
		for ib := range QK_K / 32 {
			// 1 + 2*nibble is an integer (at most 31), converted exactly.
			db := d * float32(1+2*(scales[ib/2]>>(4*(ib%2))&0xf))
			h := uint(qh[ib])
			q := qs[8*ib : 8*ib+8]
			for l := range 4 {
				i1 := uint(q[2*l]) | (h>>(2*l)&1)<<8
				i2 := uint(q[2*l+1]) | (h>>(2*l+1)&1)<<8
				iqPut4x2f((*[8]float32)(y[32*ib+8*l:]), db, &iq3sGridF[i1&511], &iq3sGridF[i2&511], &iqSigns[signs[4*ib+l]])
			}
		}
	}
}
