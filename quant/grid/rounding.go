package grid

import (
	"fmt"
	"math"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// This file holds the rounding rules every method shares: how a group of
// weights gets its scale and zero point, how a weight becomes a code, and how
// codes, scales and zero points become a kernels.QMatrix. Methods differ
// only in which weights they round (RTN: the originals; GPTQ: weights updated
// to absorb earlier rounding errors; MambaQuant: rotated weights).
//
// Symmetric b-bit (implicit zero point z = 2^(b-1)):
//
//	qmax  = 2^(b-1) - 1
//	scale = round_dtype(absmax(group) / qmax)     (1 for an all-zero group)
//	q     = clamp(roundHalfEven(w / scale), -qmax, qmax)
//	code  = q + 2^(b-1)                           w ≈ scale·(code - z)
//
// Asymmetric b-bit (the GPTQ reference convention):
//
//	xmin  = min(min(group), 0), xmax = max(max(group), 0); [-1, 1] if equal
//	scale = round_dtype((xmax - xmin) / (2^b - 1))
//	zero  = clamp(roundHalfEven(-xmin / scale), 0, 2^b - 1)
//	code  = clamp(roundHalfEven(w / scale) + zero, 0, 2^b - 1)
//
// round_dtype rounds the float32 quotient to the spec's ScaleDType (fp16,
// bf16 or fp32) before any code is computed, so codes are chosen against the
// scale that is actually stored. Codes are computed in float32 from the
// stored scale; dequantised values are computed in float32 exactly as
// kernels.QMatrix.Dequantize does.

// Scheme is the part of a quant.Spec that decides how one value is rounded
// (quant.SchemeOf extracts it).
type Scheme struct {
	Bits       int
	Symmetric  bool
	ScaleDType safetensors.DType
}

// maxCode is the largest code, 2^b - 1.
func (sc Scheme) maxCode() int32 { return 1<<sc.Bits - 1 }

// qmax is the largest symmetric magnitude, 2^(b-1) - 1.
func (sc Scheme) qmax() int32 { return 1<<(sc.Bits-1) - 1 }

// GroupParams is the scale and zero point of one group of weights.
type GroupParams struct {
	Scale float32 // already rounded to the scheme's ScaleDType
	Zero  int32   // the code that stands for 0 (2^(b-1) when symmetric)
}

// Params returns the scale and zero point of a group whose smallest and
// largest values are lo and hi.
func (sc Scheme) Params(lo, hi float64) GroupParams {
	if sc.Symmetric {
		absmax := math.Max(math.Abs(lo), math.Abs(hi))
		if absmax == 0 {
			return GroupParams{Scale: 1, Zero: 1 << (sc.Bits - 1)}
		}
		return GroupParams{Scale: sc.roundScale(float32(absmax) / float32(sc.qmax())), Zero: 1 << (sc.Bits - 1)}
	}
	xmin, xmax := math.Min(lo, 0), math.Max(hi, 0)
	if xmin == xmax {
		xmin, xmax = -1, 1
	}
	scale := sc.roundScale((float32(xmax) - float32(xmin)) / float32(sc.maxCode()))
	zero := clampInt(int32(math.RoundToEven(float64(-float32(xmin)/scale))), 0, sc.maxCode())
	return GroupParams{Scale: scale, Zero: zero}
}

// roundScale rounds a positive scale to the storage dtype. A scale below the
// dtype's smallest normal number (fp16: 6.1e-5, for groups whose absmax is
// under about 4e-3 at 4 bits) would round to a subnormal with few
// significant bits or to 0, which dequantises every weight to 0 and divides
// by zero when coding; such scales are raised to the smallest normal, which
// codes the group's values without clipping (they are all smaller than
// qmax·scale). A scale above the largest finite value (fp16: 65504) would
// round to +Inf and is lowered to that value; the group's largest weights
// are then clipped, which only a weight beyond 65504·qmax can suffer. NaN
// or infinite weights are not handled: they are the caller's error.
func (sc Scheme) roundScale(s float32) float32 {
	lo, hi := dtypeRange(sc.ScaleDType)
	switch {
	case !(s >= lo): // also catches NaN
		return lo
	case s > hi:
		return hi
	}
	return safetensors.RoundTo(s, sc.ScaleDType)
}

// dtypeRange returns the smallest normal and largest finite value of a
// float storage dtype.
func dtypeRange(d safetensors.DType) (minNormal, maxFinite float32) {
	switch d {
	case safetensors.F16:
		return 0x1p-14, 65504
	case safetensors.BF16:
		return 0x1p-126, math.Float32frombits(0x7f7f0000)
	}
	return 0x1p-126, math.MaxFloat32
}

// Code rounds w to its code under p.
func (sc Scheme) Code(w float64, p GroupParams) uint8 {
	// Clamp in float64 first: a weight far outside the group's range (GPTQ
	// moves weights after their group's scale is fixed) must not overflow
	// the integer conversion.
	// The quotient is taken in float32, as PyTorch's fake-quantisation, the
	// GPTQ reference and GPTQModel compute it: in float64 a weight at an
	// exact half-way point of the float32 quotient can round the other way.
	q := math.RoundToEven(float64(float32(w) / p.Scale))
	if sc.Symmetric {
		m := float64(sc.qmax())
		return uint8(int32(math.Max(-m, math.Min(q, m))) + p.Zero)
	}
	return uint8(int32(math.Max(0, math.Min(q+float64(p.Zero), float64(sc.maxCode())))))
}

// Dequant is the value a code stands for, computed in float32 as
// kernels.QMatrix.Dequantize does.
func (p GroupParams) Dequant(code uint8) float32 {
	return p.Scale * float32(int32(code)-p.Zero)
}

func clampInt(v, lo, hi int32) int32 {
	return max(lo, min(v, hi))
}

// Grid says which weights of a rows×cols matrix share a scale: one group
// for the tensor, one per row, or GroupSize consecutive columns of a row.
type Grid struct {
	Rows, Cols  int
	Granularity Granularity
}

// GroupCols is the number of consecutive columns of a row in one group
// (Cols for per-channel and per-tensor).
func (g Grid) GroupCols() int {
	if g.Granularity.Kind == PerGroup {
		return g.Granularity.GroupSize
	}
	return g.Cols
}

// NumParams is the number of scales (and zero points).
func (g Grid) NumParams() int {
	sr, groups := ScaleGrid(g.Granularity, g.Rows, g.Cols)
	return sr * groups
}

// Index is the scale index of weight (r, c).
func (g Grid) Index(r, c int) int {
	switch g.Granularity.Kind {
	case PerTensor:
		return 0
	case PerChannel:
		return r
	}
	return r*(g.Cols/g.Granularity.GroupSize) + c/g.Granularity.GroupSize
}

// Check reports a grid the QMatrix format cannot hold.
func (g Grid) Check() error {
	if g.Rows <= 0 || g.Cols <= 0 {
		return fmt.Errorf("matrix is %d×%d, sizes must be positive", g.Rows, g.Cols)
	}
	if g.Granularity.Kind == PerGroup && (g.Granularity.GroupSize <= 0 || g.Cols%g.Granularity.GroupSize != 0) {
		return fmt.Errorf("group size %d does not divide the %d columns", g.Granularity.GroupSize, g.Cols)
	}
	return nil
}

// GridParams computes every group's parameters from a row-major float64
// matrix w (one pass over the weights: each group's min and max).
func GridParams(w []float64, g Grid, sc Scheme) []GroupParams {
	n := g.NumParams()
	lo, hi := make([]float64, n), make([]float64, n)
	for i := range lo {
		lo[i], hi[i] = math.Inf(1), math.Inf(-1)
	}
	for r := 0; r < g.Rows; r++ {
		row := w[r*g.Cols : (r+1)*g.Cols]
		for c, v := range row {
			k := g.Index(r, c)
			lo[k] = math.Min(lo[k], v)
			hi[k] = math.Max(hi[k], v)
		}
	}
	out := make([]GroupParams, n)
	for k := range out {
		out[k] = sc.Params(lo[k], hi[k])
	}
	return out
}

// RangeParams is the parameters of one run of values (a group of a row).
func (sc Scheme) RangeParams(vals []float64) GroupParams {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	return sc.Params(lo, hi)
}

// BuildQMatrix packs rows×cols codes with their group parameters into a
// kernels.QMatrix (zero points stored only when asymmetric) and validates
// it. Every method builds its result through this function.
func BuildQMatrix(codes []uint8, params []GroupParams, g Grid, sc Scheme) (*kernels.QMatrix, error) {
	if err := g.Check(); err != nil {
		return nil, err
	}
	if len(codes) != g.Rows*g.Cols || len(params) != g.NumParams() {
		return nil, fmt.Errorf("quant: %d codes and %d group parameters for a %d×%d %s matrix (want %d and %d)",
			len(codes), len(params), g.Rows, g.Cols, g.Granularity, g.Rows*g.Cols, g.NumParams())
	}
	q := &kernels.QMatrix{
		Rows: g.Rows, Cols: g.Cols, Bits: sc.Bits,
		GroupSize: g.GroupCols(),
		PerTensor: g.Granularity.Kind == PerTensor,
		Codes:     kernels.PackCodes(codes, g.Rows, g.Cols, sc.Bits),
		Scales:    make([]float32, len(params)),
	}
	if !sc.Symmetric {
		q.Zeros = make([]uint8, len(params))
	}
	for i, p := range params {
		q.Scales[i] = p.Scale
		if q.Zeros != nil {
			q.Zeros[i] = uint8(p.Zero)
		}
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return q, nil
}

// RoundToNearest quantises a row-major float64 matrix with every weight
// rounded independently, each group's parameters from its own min/max.
// It is the whole of RTN, and MambaQuant's rounding after rotation.
func RoundToNearest(w []float64, g Grid, sc Scheme) (*kernels.QMatrix, error) {
	if err := g.Check(); err != nil {
		return nil, err
	}
	if len(w) != g.Rows*g.Cols {
		return nil, fmt.Errorf("quant: %d weights for a %d×%d matrix", len(w), g.Rows, g.Cols)
	}
	params := GridParams(w, g, sc)
	codes := make([]uint8, len(w))
	for r := 0; r < g.Rows; r++ {
		for c := 0; c < g.Cols; c++ {
			i := r*g.Cols + c
			codes[i] = sc.Code(w[i], params[g.Index(r, c)])
		}
	}
	return BuildQMatrix(codes, params, g, sc)
}
