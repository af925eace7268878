package ggml

import "math"

// The unquantised types, one value per "block":
//
//	F32:  4 bytes, an IEEE 754 binary32, little-endian.
//	F16:  2 bytes, an IEEE 754 binary16, little-endian.
//	BF16: 2 bytes, a bfloat16 (the high 16 bits of a binary32), little-endian.
//
// All three widen to float32 exactly.

func init() {
	register(F32, dequantizeF32)
	register(F16, dequantizeF16)
	register(BF16, dequantizeBF16)
}

// The loops below go eight values at a time through array pointers, so
// that the compiler drops the bounds checks, then finish the tail.

func dequantizeF32(dst []float32, src []byte) {
	n := len(src) / 4
	dst = dst[:n]
	for len(dst) >= 8 {
		s, d := (*[32]byte)(src), (*[8]float32)(dst)
		for j := range d {
			d[j] = math.Float32frombits(uint32(s[4*j]) | uint32(s[4*j+1])<<8 | uint32(s[4*j+2])<<16 | uint32(s[4*j+3])<<24)
		}
		src, dst = src[32:], dst[8:]
	}
	for j := range dst {
		dst[j] = math.Float32frombits(le32(src[4*j:]))
	}
}

func dequantizeF16(dst []float32, src []byte) {
	n := len(src) / 2
	dst = dst[:n]
	for len(dst) >= 8 {
		s, d := (*[16]byte)(src), (*[8]float32)(dst)
		for j := range d {
			// halfToFloat's normal-number path, written out because the
			// function does not inline.
			x := uint32(s[2*j]) | uint32(s[2*j+1])<<8
			if x&0x7c00-0x400 < 0x7800 {
				d[j] = math.Float32frombits(x&0x8000<<16 | (x&0x7fff<<13 + (127-15)<<23))
			} else {
				d[j] = halfToFloatSpecial(uint16(x))
			}
		}
		src, dst = src[16:], dst[8:]
	}
	for j := range dst {
		dst[j] = halfToFloat(le16(src[2*j:]))
	}
}

func dequantizeBF16(dst []float32, src []byte) {
	n := len(src) / 2
	dst = dst[:n]
	for len(dst) >= 8 {
		s, d := (*[16]byte)(src), (*[8]float32)(dst)
		for j := range d {
			d[j] = bf16ToFloat(uint16(s[2*j]) | uint16(s[2*j+1])<<8)
		}
		src, dst = src[16:], dst[8:]
	}
	for j := range dst {
		dst[j] = bf16ToFloat(le16(src[2*j:]))
	}
}
