package ggml

// IQ4_XS: super-blocks of 256 values in 136 bytes, 8 sub-blocks of 32.
//
//	bytes 0-1:    d, the super-block scale, binary16 little-endian
//	bytes 2-3:    scales_h, a little-endian uint16; bits 2s..2s+1 are the
//	              top 2 bits of sub-block s's 6-bit scale
//	bytes 4-7:    scales_l[4]; byte 4+s/2 holds the low 4 bits of
//	              sub-block s's scale, in its low nibble for even s and
//	              its high nibble for odd s
//	bytes 8-135:  qs[128], 4-bit indices into kvaluesIQ4NL (half.go);
//	              byte 8+16s+j holds value 32s + j in its low nibble and
//	              value 32s + 16 + j in its high nibble (j = 0..15)
//
// With dl = d*(scale-32) rounded to float32, value = dl*kvaluesIQ4NL[index].

const iq4_XSBytes = 2 + 2 + QK_K/64 + QK_K/2

func init() { register(IQ4_XS, dequantizeIQ4_XS) }

func dequantizeIQ4_XS(dst []float32, src []byte) {
	nb := len(src) / iq4_XSBytes
	for i := 0; i < nb; i++ {
		b := (*[iq4_XSBytes]byte)(src[i*iq4_XSBytes:])
		y := (*[QK_K]float32)(dst[i*QK_K:])
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		scalesH := uint16(b[2]) | uint16(b[3])<<8
		for s := 0; s < 8; s++ {
			ls := int(b[4+s/2]>>(4*uint(s&1))&0x0f) | int(scalesH>>(2*uint(s))&3)<<4
			dl := float32(d * float32(ls-32))
			q := (*[16]byte)(b[8+16*s : 24+16*s])
			out := (*[32]float32)(y[32*s : 32*s+32])
			for j, x := range q {
				out[j] = dl * float32(kvaluesIQ4NL[x&0x0f])
				out[j+16] = dl * float32(kvaluesIQ4NL[x>>4])
			}
		}
	}
}
