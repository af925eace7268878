package ggml

// IQ2_XXS: 2.0625 bits per weight. A block of 256 values is 66 bytes:
//
//	d      binary16 super-block scale (bytes 0-1)
//	qs     8 groups of 32 values, 8 bytes each (bytes 2-65); group ib is two
//	       little-endian uint32s: aux0 holds 4 grid indices, one per byte,
//	       each choosing 8 values of iq2xxs_grid; aux1 holds 4 7-bit sign
//	       indices (bits 7l..7l+6, into ksigns_iq2xs) and in bits 28-31
//	       the group's 4-bit scale s.
//
// Value j of 8-value run l of group ib is
//
//	db * iq2xxs_grid[aux0 byte l][j] * (±1 from ksigns_iq2xs[sign l] bit j),
//	db = d * (0.5 + s) * 0.25
//
// in float32, rounding after each product, as llama.cpp's
// dequantize_row_iq2_xxs.

const iq2_XXSBytes = 2 + QK_K/4

func init() { register(IQ2_XXS, dequantizeIQ2_XXS) }

func dequantizeIQ2_XXS(dst []float32, src []byte) {
	nb := len(src) / iq2_XXSBytes
	dst = dst[:nb*QK_K]
	for i := range nb {
		b := src[i*iq2_XXSBytes : (i+1)*iq2_XXSBytes]
		y := dst[i*QK_K : (i+1)*QK_K]
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		for ib := range QK_K / 32 {
			q := b[2+8*ib : 2+8*ib+8]
			aux0 := uint32(q[0]) | uint32(q[1])<<8 | uint32(q[2])<<16 | uint32(q[3])<<24
			aux1 := uint32(q[4]) | uint32(q[5])<<8 | uint32(q[6])<<16 | uint32(q[7])<<24
			db := float32(d*(0.5+float32(aux1>>28))) * 0.25
			for l := range 4 {
				g := &iq2xxsGridF[uint8(aux0>>(8*l))]
				s := &iqSigns[ksigns_iq2xs[(aux1>>(7*l))&127]]
				iqPut8f((*[8]float32)(y[32*ib+8*l:]), db, g, s)
			}
		}
	}
}
