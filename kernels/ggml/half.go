package ggml

import "math"

// Helpers shared by the format files: the half-precision scales every
// quantised block starts from, and little-endian loads.

// halfToFloat converts an IEEE 754 binary16 value to float32 exactly, as
// ggml's GGML_FP16_TO_FP32 does: normal values and subnormals map to the
// same number, ±0 and ±Inf to themselves, and a NaN keeps its sign and
// payload with the quiet bit set (ggml's C conversion multiplies by
// 2^-112, which quiets a signalling NaN: 0x7c01 gives 0x7fc02000 in
// libggml-base; numpy, and so gguf-py, keeps it signalling, 0x7f802000).
func halfToFloat(h uint16) float32 {
	x := uint32(h)
	if x&0x7c00-0x400 < 0x7800 { // exponent neither 0 nor all ones (wraps for 0)
		// Normal: move exponent and mantissa into place and rebias the
		// exponent from 15 to 127.
		return math.Float32frombits(x&0x8000<<16 | (x&0x7fff<<13 + (127-15)<<23))
	}
	return halfToFloatSpecial(h)
}

// halfToFloatSpecial handles the zeros, subnormals, infinities and NaNs,
// kept apart so that the common path stays short. (halfToFloat still
// exceeds Go's inlining budget, so dequantizeF16 repeats its normal path
// inline.)
func halfToFloatSpecial(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	mant := uint32(h & 0x3ff)
	if h&0x7c00 != 0 { // exponent all ones
		if mant == 0 {
			return math.Float32frombits(sign | 0x7f800000)
		}
		return math.Float32frombits(sign | 0x7fc00000 | mant<<13)
	}
	if mant == 0 {
		return math.Float32frombits(sign)
	}
	// Subnormal: value = mant * 2^-24. Shift the mantissa until its
	// leading one becomes the implicit bit, lowering the exponent as it goes.
	e := uint32(127 - 15 + 1)
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// bf16ToFloat widens a bfloat16 (the top half of a float32) exactly.
func bf16ToFloat(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// le16 reads a little-endian uint16 from b[0:2].
func le16(b []byte) uint16 {
	_ = b[1]
	return uint16(b[0]) | uint16(b[1])<<8
}

// le32 reads a little-endian uint32 from b[0:4].
func le32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

// kvaluesIQ4NL is the non-linear 4-bit code book of IQ4_NL and IQ4_XS
// (llama.cpp's kvalues_iq4nl): a 4-bit index selects the integer that the
// block scale multiplies.
var kvaluesIQ4NL = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// kScalesMins unpacks the eight 6-bit scales and eight 6-bit mins of the
// 12-byte scales field of Q4_K and Q5_K. Bytes 0-3 hold scales 0-3 in
// their low 6 bits and bytes 4-7 mins 0-3 likewise; scale and min j >= 4
// take their low 4 bits from byte j+4 (low nibble: scale, high nibble:
// min) and their top 2 bits from the spare top bits of byte j-4 (scale)
// and byte j (min).
func kScalesMins(s *[12]byte) (sc, m [8]uint8) {
	for j := 0; j < 4; j++ {
		sc[j] = s[j] & 63
		m[j] = s[j+4] & 63
		sc[j+4] = s[j+8]&0x0f | (s[j]>>6)<<4
		m[j+4] = s[j+8]>>4 | (s[j+4]>>6)<<4
	}
	return sc, m
}
