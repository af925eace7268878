package ggml

// Q4_K: super-blocks of 256 values in 144 bytes, 8 sub-blocks of 32.
//
//	bytes 0-1:    d, the super-block scale of the scales, binary16
//	bytes 2-3:    dmin, the super-block scale of the mins, binary16
//	bytes 4-15:   scales, eight 6-bit scales and eight 6-bit mins packed
//	              as kScalesMins (half.go) describes
//	bytes 16-143: qs[128], 4-bit quants; byte 16+32c+l holds value
//	              64c + l in its low nibble and value 64c + 32 + l in its
//	              high nibble (c = 0..3, l = 0..31)
//
// Value v lies in sub-block s = v/32; with d1 = d*scale[s] and
// m1 = dmin*min[s] (each rounded to float32), value = d1*q - m1, the
// product rounded before the difference.

const q4_KBytes = 2 + 2 + 12 + QK_K/2

func init() { register(Q4_K, dequantizeQ4_K) }

func dequantizeQ4_K(dst []float32, src []byte) {
	nb := len(src) / q4_KBytes
	for i := 0; i < nb; i++ {
		b := (*[q4_KBytes]byte)(src[i*q4_KBytes:])
		y := (*[QK_K]float32)(dst[i*QK_K:])
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		dmin := halfToFloat(uint16(b[2]) | uint16(b[3])<<8)
		sc, mn := kScalesMins((*[12]byte)(b[4:16]))
		for c := 0; c < 4; c++ {
			d1 := float32(d * float32(sc[2*c]))
			m1 := float32(dmin * float32(mn[2*c]))
			d2 := float32(d * float32(sc[2*c+1]))
			m2 := float32(dmin * float32(mn[2*c+1]))
			q := (*[32]byte)(b[16+32*c : 48+32*c])
			lo := (*[32]float32)(y[64*c : 64*c+32])
			hi := (*[32]float32)(y[64*c+32 : 64*c+64])
			for l, x := range q {
				lo[l] = float32(d1*float32(x&0x0f)) - m1
				hi[l] = float32(d2*float32(x>>4)) - m2
			}
		}
	}
}
