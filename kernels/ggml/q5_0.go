package ggml

// Q5_0: blocks of 32 values in 22 bytes.
//
//	bytes 0-1:  d, the block scale, binary16 little-endian
//	bytes 2-5:  qh, a little-endian uint32; bit j is the 5th (high) bit
//	            of value j
//	bytes 6-21: qs[16], the low 4 bits; byte 6+j holds value j in its low
//	            nibble and value j+16 in its high nibble
//
// value = (q - 16) * d, one float32 rounding.

const q5_0Bytes = 2 + 4 + 16

func init() { register(Q5_0, dequantizeQ5_0) }

func dequantizeQ5_0(dst []float32, src []byte) {
	nb := len(src) / q5_0Bytes
	for i := 0; i < nb; i++ {
		b := (*[q5_0Bytes]byte)(src[i*q5_0Bytes:])
		y := (*[32]float32)(dst[i*32:])
		d := halfToFloat(uint16(b[0]) | uint16(b[1])<<8)
		qh := uint32(b[2]) | uint32(b[3])<<8 | uint32(b[4])<<16 | uint32(b[5])<<24
		qs := b[6:22]
		for j, q := range qs {
			h0 := int(qh>>(uint(j)&31)&1) << 4
			h1 := int(qh>>(uint(j+16)&31)&1) << 4
			y[j] = float32((int(q&0x0f)|h0)-16) * d
			y[j+16] = float32((int(q>>4)|h1)-16) * d
		}
	}
}
