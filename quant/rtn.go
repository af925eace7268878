package quant

import (
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// RTN is round-to-nearest quantisation: each group's scale (and zero point)
// comes from its own min/max, every weight is rounded independently (see
// grid/rounding.go for the rules).
type RTN struct{}

func init() { Register(RTN{}) }

func (RTN) Name() string { return "rtn" }
func (RTN) Summary() string {
	return "round to nearest, 2-8 bits, symmetric or asymmetric, per tensor / channel / group"
}
func (RTN) Options() []string                       { return nil }
func (RTN) Aux(Assignment) []safetensors.TensorSpec { return nil }
func (RTN) Prepare(s *Spec) error                   { return CheckBits(s.Bits, 2, 8) }

// NeedsCalibration is false: RTN looks at the weights only.
func (RTN) NeedsCalibration(Spec) bool { return false }

// Quantize rounds every weight to the nearest point of its group's grid.
func (RTN) Quantize(w []float32, a Assignment, _ *Stats) (*Quantized, error) {
	if err := checkWeights("rtn", w, a); err != nil {
		return nil, err
	}
	q, err := grid.RoundToNearest(widen(w), grid.Grid{Rows: a.Rows, Cols: a.Cols, Granularity: a.Spec.Granularity}, SchemeOf(a.Spec))
	if err != nil {
		return nil, err
	}
	return &Quantized{Q: q}, nil
}
