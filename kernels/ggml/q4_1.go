package ggml

// Q4_1: blocks of 32 values in 20 bytes.
//
//	bytes 0-1:  d, the block scale, binary16 little-endian
//	bytes 2-3:  m, the block minimum, binary16 little-endian
//	bytes 4-19: qs[16], 4-bit quants; byte 4+j holds value j in its low
//	            nibble and value j+16 in its high nibble
//
// value = q*d + m: the product is rounded to float32, then the sum
// (llama.cpp does not fuse them).

const q4_1Bytes = 2 + 2 + 16

func init() { register(Q4_1, dequantizeQ4_1) }

func dequantizeQ4_1(dst []float32, src []byte) {
	nb := len(src) / q4_1Bytes
	for i := 0; i < nb; i++ {
		b := (*[q4_1Bytes]byte)(src[i*q4_1Bytes:])
		y := (*[32]float32)(dst[i*32:])
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		m := halfToFloat(uint16(b[2]) | uint16(b[3])<<8)
		qs := b[4:20]
		for j, q := range qs {
			y[j] = float32(float32(q&0x0f)*d) + m
			y[j+16] = float32(float32(q>>4)*d) + m
		}
	}
}
