package ggml

// Q3_K: super-blocks of 256 values in 110 bytes, 16 sub-blocks of 16.
//
//	bytes 0-31:   hmask[32], the high bits; bit 4h+k of byte l is the
//	              high bit of value 128h + 32k + l (h = 0, 1; k = 0..3;
//	              l = 0..31)
//	bytes 32-95:  qs[64], the low 2 bits, four per byte; bits 2k..2k+1 of
//	              byte 32+32h+l are value 128h + 32k + l
//	bytes 96-107: scales, sixteen 6-bit scales: scale s (0..15) takes its
//	              low 4 bits from byte 96+s%8 (the low nibble for s < 8,
//	              the high one for s >= 8) and its top 2 bits from bits
//	              2(s/4)..2(s/4)+1 of byte 104+s%4
//	bytes 108-109: d, the super-block scale, binary16 little-endian
//
// Value v lies in sub-block v/16; with dl = d*(scale-32) rounded to
// float32 and q = low2 - (high bit set ? 0 : 4) in -4..3, value = dl*q.

const q3_KBytes = QK_K/8 + QK_K/4 + 12 + 2

func init() { register(Q3_K, dequantizeQ3_K) }

// q3KScales unpacks the sixteen 6-bit scales of a Q3_K super-block, less
// their offset of 32.
func q3KScales(s *[12]byte) (sc [16]int8) {
	for j := 0; j < 4; j++ {
		hi := s[8+j]
		sc[j] = int8(s[j]&0x0f|(hi&3)<<4) - 32
		sc[4+j] = int8(s[4+j]&0x0f|(hi>>2&3)<<4) - 32
		sc[8+j] = int8(s[j]>>4|(hi>>4&3)<<4) - 32
		sc[12+j] = int8(s[4+j]>>4|(hi>>6&3)<<4) - 32
	}
	return sc
}

func dequantizeQ3_K(dst []float32, src []byte) {
	nb := len(src) / q3_KBytes
	for i := 0; i < nb; i++ {
		b := (*[q3_KBytes]byte)(src[i*q3_KBytes:])
		y := (*[QK_K]float32)(dst[i*QK_K:])
		hmask := (*[32]byte)(b[0:32])
		sc := q3KScales((*[12]byte)(b[96:108]))
		d := halfToFloat(uint16(b[108]) | uint16(b[109])<<8)
		for h := 0; h < 2; h++ {
			q := (*[32]byte)(b[32+32*h : 64+32*h])
			for k := 0; k < 4; k++ {
				shift := uint(2 * k)
				hbit := uint(4*h + k) // the hmask bit of these 32 values
				for half := 0; half < 2; half++ {
					dl := float32(d * float32(sc[8*h+2*k+half]))
					out := (*[16]float32)(y[128*h+32*k+16*half:])
					qq := (*[16]byte)(q[16*half:])
					hm := (*[16]byte)(hmask[16*half:])
					for l, x := range qq {
						// low2 - (high bit set ? 0 : 4), without a branch.
						v := int(x>>shift&3|(hm[l]>>hbit&1)<<2) - 4
						out[l] = dl * float32(v)
					}
				}
			}
		}
	}
}
