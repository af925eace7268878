package ggml

// IQ3_XXS: 3.0625 bits per weight. A block of 256 values is 98 bytes:
//
//	d      binary16 super-block scale (bytes 0-1)
//	qs     64 bytes (bytes 2-65): one iq3xxs_grid index per 4 values
//	ss     8 little-endian uint32s (bytes 66-97), one per group of 32:
//	       bits 7l..7l+6 are run l's sign index into ksigns_iq2xs, bits
//	       28-31 the group's 4-bit scale s
//
// Value j of 8-value run l of group ib is
//
//	db * iq3xxs_grid[qs[8ib+2l+j/4]][j%4] * (±1 from ksigns_iq2xs[sign l] bit j),
//	db = d * (0.5 + s) * 0.5
//
// in float32, rounding after each product, as llama.cpp's
// dequantize_row_iq3_xxs.

const iq3_XXSBytes = 2 + QK_K/4 + QK_K/8

func init() { register(IQ3_XXS, dequantizeIQ3_XXS) }

func dequantizeIQ3_XXS(dst []float32, src []byte) {
	nb := len(src) / iq3_XXSBytes
	dst = dst[:nb*QK_K]
	for i := range nb {
		b := src[i*iq3_XXSBytes : (i+1)*iq3_XXSBytes]
		y := dst[i*QK_K : (i+1)*QK_K]
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		qs := b[2 : 2+QK_K/4]
		ss := b[2+QK_K/4 : 2+QK_K/4+QK_K/8]
		for ib := range QK_K / 32 {
			aux := uint32(ss[4*ib]) | uint32(ss[4*ib+1])<<8 | uint32(ss[4*ib+2])<<16 | uint32(ss[4*ib+3])<<24
			db := float32(d*(0.5+float32(aux>>28))) * 0.5
			q := qs[8*ib : 8*ib+8]
			for l := range 4 {
				s := &iqSigns[ksigns_iq2xs[(aux>>(7*l))&127]]
				iqPut4x2f((*[8]float32)(y[32*ib+8*l:]), db, &iq3xxsGridF[q[2*l]], &iq3xxsGridF[q[2*l+1]], s)
			}
		}
	}
}
