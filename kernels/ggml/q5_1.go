package ggml

// Q5_1: blocks of 32 values in 24 bytes.
//
//	bytes 0-1:  d, the block scale, binary16 little-endian
//	bytes 2-3:  m, the block minimum, binary16 little-endian
//	bytes 4-7:  qh, a little-endian uint32; bit j is the 5th (high) bit
//	            of value j
//	bytes 8-23: qs[16], the low 4 bits; byte 8+j holds value j in its low
//	            nibble and value j+16 in its high nibble
//
// value = q*d + m: the product is rounded to float32, then the sum.

const q5_1Bytes = 2 + 2 + 4 + 16

func init() { register(Q5_1, dequantizeQ5_1) }

func dequantizeQ5_1(dst []float32, src []byte) {
	nb := len(src) / q5_1Bytes
	for i := 0; i < nb; i++ {
		b := (*[q5_1Bytes]byte)(src[i*q5_1Bytes:])
		y := (*[32]float32)(dst[i*32:])
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		m := halfToFloat(uint16(b[2]) | uint16(b[3])<<8)
		qh := uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24
		qs := b[8:24]
		for j, q := range qs {
			h0 := uint8(qh>>(uint(j)&31)&1) << 4
			h1 := uint8(qh>>(uint(j+16)&31)&1) << 4
			y[j] = float32(float32(q&0x0f|h0)*d) + m
			y[j+16] = float32(float32(q>>4|h1)*d) + m
		}
	}
}
