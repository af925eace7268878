package kernels

import "math"

// Scalar conversions of the two 16-bit float formats weights are stored in.
// The packers in dense.go use these on the portable path; the amd64 packers
// convert sixteen values at a time (VPMOVZXWD+VPSLLD for bf16, VCVTPH2PS for
// fp16) with identical results.

// bf16ToFloat32 widens a bfloat16 (the high half of a float32) exactly.
func bf16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// fp16ToFloat32 widens an IEEE 754 binary16 exactly, subnormals, infinities
// and NaNs (payload kept, as VCVTPH2PS does) included.
func fp16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch exp {
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case 0:
		// Zero or subnormal: man·2⁻²⁴, exact in float32.
		return math.Float32frombits(sign | math.Float32bits(float32(man)*(1.0/(1<<24))))
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}
