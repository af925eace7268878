package ggml

// Q2_K: super-blocks of 256 values in 84 bytes, 16 sub-blocks of 16.
//
//	bytes 0-15:  scales[16]; byte s: low nibble the 4-bit scale, high
//	             nibble the 4-bit min of sub-block s
//	bytes 16-79: qs[64], 2-bit quants, four per byte; in half h (0, 1) of
//	             the super-block, bits 2k..2k+1 of byte 16+32h+l are value
//	             128h + 32k + l (k = 0..3, l = 0..31)
//	bytes 80-81: d, the super-block scale of the scales, binary16
//	bytes 82-83: dmin, the super-block scale of the mins, binary16
//
// Value v lies in sub-block v/16; with dl = d*scale and ml = dmin*min
// (each rounded to float32), value = dl*q - ml, the product rounded
// before the difference.

const q2_KBytes = QK_K/16 + QK_K/4 + 2 + 2

func init() { register(Q2_K, dequantizeQ2_K) }

func dequantizeQ2_K(dst []float32, src []byte) {
	nb := len(src) / q2_KBytes
	for i := 0; i < nb; i++ {
		b := (*[q2_KBytes]byte)(src[i*q2_KBytes:])
		y := (*[QK_K]float32)(dst[i*QK_K:])
		scales := (*[16]byte)(b[0:16])
		d := halfToFloat(uint16(b[80]) | uint16(b[81])<<8)
		dmin := halfToFloat(uint16(b[82]) | uint16(b[83])<<8)
		for h := 0; h < 2; h++ {
			q := (*[32]byte)(b[16+32*h : 48+32*h])
			for k := 0; k < 4; k++ {
				shift := uint(2 * k)
				// Two sub-blocks of 16 share this shift: bytes 0-15 and 16-31.
				for half := 0; half < 2; half++ {
					sc := scales[8*h+2*k+half]
					dl := float32(d * float32(sc&0x0f))
					ml := float32(dmin * float32(sc>>4))
					out := (*[16]float32)(y[128*h+32*k+16*half:])
					qq := (*[16]byte)(q[16*half:])
					for l, x := range qq {
						out[l] = float32(dl*float32(x>>shift&3)) - ml
					}
				}
			}
		}
	}
}
