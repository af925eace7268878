package ggml

// Q8_0: blocks of 32 values in 34 bytes.
//
//	bytes 0-1:  d, the block scale, binary16 little-endian
//	bytes 2-33: qs[32], signed 8-bit quants (two's complement), value j
//	            in byte 2+j
//
// value = q * d, one float32 rounding.

const q8_0Bytes = 2 + 32

func init() { register(Q8_0, dequantizeQ8_0) }

func dequantizeQ8_0(dst []float32, src []byte) {
	nb := len(src) / q8_0Bytes
	for i := 0; i < nb; i++ {
		b := (*[q8_0Bytes]byte)(src[i*q8_0Bytes:])
		y := (*[32]float32)(dst[i*32:])
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		for j, q := range b[2:34] {
			y[j] = float32(int8(q)) * d
		}
	}
}
