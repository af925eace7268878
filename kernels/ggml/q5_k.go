package ggml

// Q5_K: super-blocks of 256 values in 176 bytes, 8 sub-blocks of 32.
//
//	bytes 0-1:    d, the super-block scale of the scales, binary16
//	bytes 2-3:    dmin, the super-block scale of the mins, binary16
//	bytes 4-15:   scales, eight 6-bit scales and eight 6-bit mins packed
//	              as kScalesMins (half.go) describes
//	bytes 16-47:  qh[32], the 5th bits; bit 2c of byte 16+l belongs to
//	              value 64c + l, bit 2c+1 to value 64c + 32 + l
//	bytes 48-175: qs[128], the low 4 bits; byte 48+32c+l holds value
//	              64c + l in its low nibble and value 64c + 32 + l in its
//	              high nibble (c = 0..3, l = 0..31)
//
// Value v lies in sub-block s = v/32; with d1 = d*scale[s] and
// m1 = dmin*min[s] (each rounded to float32) and q in 0..31,
// value = d1*q - m1, the product rounded before the difference.

const q5_KBytes = 2 + 2 + 12 + QK_K/8 + QK_K/2

func init() { register(Q5_K, dequantizeQ5_K) }

func dequantizeQ5_K(dst []float32, src []byte) {
	nb := len(src) / q5_KBytes
	for i := 0; i < nb; i++ {
		b := (*[q5_KBytes]byte)(src[i*q5_KBytes:])
		y := (*[QK_K]float32)(dst[i*QK_K:])
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		dmin := halfToFloat(uint16(b[2]) | uint16(b[3])<<8)
		sc, mn := kScalesMins((*[12]byte)(b[4:16]))
		qh := (*[32]byte)(b[16:48])
		for c := 0; c < 4; c++ {
			d1 := float32(d * float32(sc[2*c]))
			m1 := float32(dmin * float32(mn[2*c]))
			d2 := float32(d * float32(sc[2*c+1]))
			m2 := float32(dmin * float32(mn[2*c+1]))
			s1, s2 := uint(2*c), uint(2*c+1)
			q := (*[32]byte)(b[48+32*c : 80+32*c])
			lo := (*[32]float32)(y[64*c : 64*c+32])
			hi := (*[32]float32)(y[64*c+32 : 64*c+64])
			for l, x := range q {
				h := qh[l]
				lo[l] = float32(d1*float32(x&0x0f|(h>>s1&1)<<4)) - m1
				hi[l] = float32(d2*float32(x>>4|(h>>s2&1)<<4)) - m2
			}
		}
	}
}
