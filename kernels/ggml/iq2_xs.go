package ggml

// IQ2_XS: 2.3125 bits per weight. A block of 256 values is 74 bytes:
//
//	d       binary16 super-block scale (bytes 0-1)
//	qs      32 little-endian uint16s (bytes 2-65), one per run of 8 values:
//	        bits 0-8 index iq2xs_grid, bits 9-15 index ksigns_iq2xs
//	scales  8 bytes (bytes 66-73), one per group of 32 values: the low
//	        nibble scales the group's first 16 values, the high nibble the
//	        last 16
//
// Value j of run k (group ib = k/4) is
//
//	db * iq2xs_grid[qs[k]&511][j] * (±1 from ksigns_iq2xs[qs[k]>>9] bit j),
//	db = d * (0.5 + nibble) * 0.25
//
// in float32, rounding after each product, as llama.cpp's
// dequantize_row_iq2_xs.

const iq2_XSBytes = 2 + QK_K/4 + QK_K/32

func init() { register(IQ2_XS, dequantizeIQ2_XS) }

func dequantizeIQ2_XS(dst []float32, src []byte) {
	nb := len(src) / iq2_XSBytes
	dst = dst[:nb*QK_K]
	for i := range nb {
		b := src[i*iq2_XSBytes : (i+1)*iq2_XSBytes]
		y := dst[i*QK_K : (i+1)*QK_K]
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		qs := b[2 : 2+QK_K/4]
		scales := b[2+QK_K/4 : 2+QK_K/4+QK_K/32]
		for ib := range QK_K / 32 {
			sc := scales[ib]
			db := [2]float32{
				float32(d*(0.5+float32(sc&0xf))) * 0.25,
				float32(d*(0.5+float32(sc>>4))) * 0.25,
			}
			for l := range 4 {
				q := uint16(qs[8*ib+2*l]) | uint16(qs[8*ib+2*l+1])<<8
				g := &iq2xsGridF[q&511]
				s := &iqSigns[ksigns_iq2xs[q>>9]]
				iqPut8f((*[8]float32)(y[32*ib+8*l:]), db[l/2], g, s)
			}
		}
	}
}
