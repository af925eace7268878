package ggml

// IQ4_NL: blocks of 32 values in 18 bytes.
//
//	bytes 0-1:  d, the block scale, binary16 little-endian
//	bytes 2-17: qs[16], 4-bit indices into kvaluesIQ4NL (half.go); byte
//	            2+j holds value j in its low nibble and value j+16 in its
//	            high nibble
//
// value = d * kvaluesIQ4NL[index], one float32 rounding.

const iq4_NLBytes = 2 + 16

func init() { register(IQ4_NL, dequantizeIQ4_NL) }

func dequantizeIQ4_NL(dst []float32, src []byte) {
	nb := len(src) / iq4_NLBytes
	for i := 0; i < nb; i++ {
		b := (*[iq4_NLBytes]byte)(src[i*iq4_NLBytes:])
		y := (*[32]float32)(dst[i*32:])
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		for j, q := range b[2:18] {
			y[j] = d * float32(kvaluesIQ4NL[q&0x0f])
			y[j+16] = d * float32(kvaluesIQ4NL[q>>4])
		}
	}
}
