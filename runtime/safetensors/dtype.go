package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/x448/float16"

	"github.com/hyquant/hyquant/internal/parallel"
)

// DType is a safetensors element type, spelled as in the file header.
type DType string

// The element types of the safetensors format.
const (
	BOOL   DType = "BOOL"
	U8     DType = "U8"
	I8     DType = "I8"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
	I16    DType = "I16"
	U16    DType = "U16"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I32    DType = "I32"
	U32    DType = "U32"
	F32    DType = "F32"
	F64    DType = "F64"
	I64    DType = "I64"
	U64    DType = "U64"
)

var dtypeSizes = map[DType]int{
	BOOL: 1, U8: 1, I8: 1, F8E4M3: 1, F8E5M2: 1,
	I16: 2, U16: 2, F16: 2, BF16: 2,
	I32: 4, U32: 4, F32: 4,
	F64: 8, I64: 8, U64: 8,
}

// Size is the number of bytes of one element; 0 for an unknown type.
func (d DType) Size() int { return dtypeSizes[d] }

// Known reports whether d is a safetensors element type.
func (d DType) Known() bool { return dtypeSizes[d] != 0 }

// IsFloat reports whether hyquant converts this type to float32.
func (d DType) IsFloat() bool { return d == F32 || d == F16 || d == BF16 }

// DTypeFromTorch maps a torch dtype name (as in config.json's torch_dtype) to
// its safetensors type.
func DTypeFromTorch(name string) (DType, error) {
	switch name {
	case "bfloat16":
		return BF16, nil
	case "float16", "half":
		return F16, nil
	case "float32", "float":
		return F32, nil
	}
	return "", fmt.Errorf("torch dtype %q is not one of bfloat16, float16, float32", name)
}

// ToFloat32 converts little-endian raw elements of a float type into dst,
// which must hold len(raw)/Size() values.
func ToFloat32(dst []float32, raw []byte, d DType) error {
	if !d.IsFloat() {
		return fmt.Errorf("dtype %s is not converted to float32 (hyquant reads BF16, F16 and F32 weights)", d)
	}
	n, sz := len(dst), d.Size()
	if len(raw) != sz*n {
		return fmt.Errorf("%s: %d bytes for %d values", d, len(raw), n)
	}
	parallel.For(n, convertChunk, func(lo, hi int) { toFloat32(dst[lo:hi], raw[lo*sz:hi*sz], d) })
	return nil
}

// convertChunk is the fewest values one worker of a conversion takes.
const convertChunk = 1 << 18

// toFloat32 converts raw (of len(dst) values of type d, checked) serially.
func toFloat32(dst []float32, raw []byte, d DType) {
	switch d {
	case F32:
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case BF16:
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
	case F16:
		for i := range dst {
			dst[i] = float16.Frombits(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
		}
	}
}

// FromFloat32 encodes values as little-endian elements of a float type,
// rounding to nearest even for BF16 and F16.
func FromFloat32(dst []byte, src []float32, d DType) error {
	if !d.IsFloat() {
		return fmt.Errorf("dtype %s is not a float type hyquant writes (BF16, F16, F32)", d)
	}
	sz := d.Size()
	if len(dst) != len(src)*sz {
		return fmt.Errorf("%s: %d bytes for %d values", d, len(dst), len(src))
	}
	parallel.For(len(src), convertChunk, func(lo, hi int) { fromFloat32(dst[lo*sz:hi*sz], src[lo:hi], d) })
	return nil
}

// fromFloat32 encodes src (checked to fit dst) serially.
func fromFloat32(dst []byte, src []float32, d DType) {
	switch d {
	case F32:
		for i, v := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case BF16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], BF16Bits(v))
		}
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], float16.Fromfloat32(v).Bits())
		}
	}
}

// BF16Bits rounds a float32 to bfloat16 (nearest, ties to even; NaN stays NaN).
func BF16Bits(v float32) uint16 {
	b := math.Float32bits(v)
	if v != v { // NaN: keep it a quiet NaN
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

// RoundTo rounds v to the nearest value representable in a float dtype.
func RoundTo(v float32, d DType) float32 {
	switch d {
	case BF16:
		return math.Float32frombits(uint32(BF16Bits(v)) << 16)
	case F16:
		return float16.Fromfloat32(v).Float32()
	}
	return v
}
