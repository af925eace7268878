package ggml

// Q4_0: blocks of 32 values in 18 bytes.
//
//	bytes 0-1:  d, the block scale, binary16 little-endian
//	bytes 2-17: qs[16], 4-bit quants; byte 2+j holds value j in its low
//	            nibble and value j+16 in its high nibble
//
// value = (q - 8) * d, one float32 rounding.

const q4_0Bytes = 2 + 16

func init() { register(Q4_0, dequantizeQ4_0) }

func dequantizeQ4_0(dst []float32, src []byte) {
	nb := len(src) / q4_0Bytes
	for i := 0; i < nb; i++ {
		b := (*[q4_0Bytes]byte)(src[i*q4_0Bytes:])
		y := (*[32]float32)(dst[i*32:])
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		qs := b[2:18]
		for j, q := range qs {
			y[j] = float32(int(q&0x0f)-8) * d
			y[j+16] = float32(int(q>>4)-8) * d
		}
	}
}
