package ggml

// Q6_K: super-blocks of 256 values in 210 bytes, 16 sub-blocks of 16.
//
//	bytes 0-127:   ql[128], the low 4 bits; in half h (0, 1) byte
//	               64h+l (l = 0..31) holds value 128h + l in its low
//	               nibble and 128h + 64 + l in its high nibble, byte
//	               64h+32+l holds 128h + 32 + l (low) and 128h + 96 + l
//	               (high)
//	bytes 128-191: qh[64], the top 2 bits; bits 2k..2k+1 of byte
//	               128+32h+l belong to value 128h + 32k + l (k = 0..3)
//	bytes 192-207: scales[16], signed 8-bit sub-block scales
//	bytes 208-209: d, the super-block scale, binary16 little-endian
//
// Value v lies in sub-block v/16; with q the 6-bit quant less 32,
// value = (d*scale)*q, each product rounded to float32 (as llama.cpp's
// d * sc * q evaluates left to right).

const q6_KBytes = QK_K/2 + QK_K/4 + QK_K/16 + 2

func init() { register(Q6_K, dequantizeQ6_K) }

func dequantizeQ6_K(dst []float32, src []byte) {
	nb := len(src) / q6_KBytes
	for i := 0; i < nb; i++ {
		b := (*[q6_KBytes]byte)(src[i*q6_KBytes:])
		y := (*[QK_K]float32)(dst[i*QK_K:])
		d := halfToFloat(uint16(b[208]) | uint16(b[209])<<8)
		var ds [16]float32
		for s, x := range b[192:208] {
			ds[s] = float32(d * float32(int8(x)))
		}
		for h := 0; h < 2; h++ {
			ql := (*[64]byte)(b[64*h : 64*h+64])
			qh := (*[32]byte)(b[128+32*h : 160+32*h])
			out := (*[128]float32)(y[128*h : 128*h+128])
			for l := 0; l < 32; l++ {
				// Sub-block of value 128h + 32k + l is 8h + 2k + l/16.
				s := 8*h + l/16
				a, c, hb := ql[l], ql[l+32], qh[l]
				q1 := int(a&0x0f|(hb&3)<<4) - 32
				q2 := int(c&0x0f|(hb>>2&3)<<4) - 32
				q3 := int(a>>4|(hb>>4&3)<<4) - 32
				q4 := int(c>>4|(hb>>6)<<4) - 32
				out[l] = ds[s] * float32(q1)
				out[l+32] = ds[s+2] * float32(q2)
				out[l+64] = ds[s+4] * float32(q3)
				out[l+96] = ds[s+6] * float32(q4)
			}
		}
	}
}
