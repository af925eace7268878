package runtime

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/hyquant/hyquant/internal/finite"
	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// NonFiniteError is a weight tensor holding a NaN or an infinity: a model
// with one gives NaN perplexities, so it is refused when its weights are
// read, naming the tensor and the first such value.
type NonFiniteError struct {
	File   string
	Tensor string
	Shape  []int64
	Index  int64 // flat index of the first non-finite value
	Value  float32
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("%s: tensor %q %v holds a non-finite value: %v at %s (the first one); the checkpoint is corrupt or was saved from a diverged model",
		e.File, e.Tensor, e.Shape, e.Value, position(e.Shape, e.Index))
}

// position names a flat index of a shape: "row r, column c" for matrices,
// "index i" for vectors, "index [i j k]" otherwise.
func position(shape []int64, flat int64) string {
	switch len(shape) {
	case 0, 1:
		return fmt.Sprintf("index %d", flat)
	case 2:
		return fmt.Sprintf("row %d, column %d", flat/shape[1], flat%shape[1])
	}
	idx := make([]string, len(shape))
	for i := len(shape) - 1; i >= 0; i-- {
		idx[i] = fmt.Sprint(flat % shape[i])
		flat /= shape[i]
	}
	return "index [" + strings.Join(idx, " ") + "]"
}

// scanChunk is how many values one worker scans at least.
const scanChunk = 1 << 20

// firstNonFiniteRaw is the index of the first NaN or infinity of stored
// BF16, F16 or F32 bytes (an all-ones exponent), or -1, without converting.
func firstNonFiniteRaw(raw []byte, d safetensors.DType) int {
	var mask uint32
	switch d {
	case safetensors.BF16:
		mask = 0x7f80
	case safetensors.F16:
		mask = 0x7c00
	case safetensors.F32:
		return parallel.First(len(raw)/4, scanChunk, func(lo, hi int) int {
			for i := lo; i < hi; i++ {
				if binary.LittleEndian.Uint32(raw[4*i:])&0x7f800000 == 0x7f800000 {
					return i
				}
			}
			return -1
		})
	default:
		return -1
	}
	return parallel.First(len(raw)/2, scanChunk, func(lo, hi int) int {
		for i := lo; i < hi; i++ {
			if uint32(binary.LittleEndian.Uint16(raw[2*i:]))&mask == mask {
				return i
			}
		}
		return -1
	})
}

// CheckFinite returns a NonFiniteError when converted values of tensor ti
// hold a NaN or an infinity; off is the flat index of v[0] in the tensor
// (0 unless v is a piece read while streaming).
func CheckFinite(v []float32, ti TensorInfo, off int64) error {
	i := finite.First(v)
	if i < 0 {
		return nil
	}
	return &NonFiniteError{File: ti.File, Tensor: ti.Name, Shape: ti.Shape, Index: off + int64(i), Value: v[i]}
}

// CheckFiniteRaw is CheckFinite on stored BF16, F16 or F32 bytes (mapped
// weights, tensors copied as stored), without converting them.
func CheckFiniteRaw(raw []byte, ti TensorInfo, off int64) error {
	i := firstNonFiniteRaw(raw, ti.DType)
	if i < 0 {
		return nil
	}
	one := make([]float32, 1)
	sz := ti.DType.Size()
	if err := safetensors.ToFloat32(one, raw[i*sz:(i+1)*sz], ti.DType); err != nil {
		return err
	}
	return &NonFiniteError{File: ti.File, Tensor: ti.Name, Shape: ti.Shape, Index: off + int64(i), Value: one[0]}
}
