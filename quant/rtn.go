package quant

import (
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// RTN is round-to-nearest quantisation: each group's scale (and zero point)
// comes from its own min/max, every weight is rounded independently.
type RTN struct{}

func init() { Register(RTN{}) }

func (RTN) Name() string { return "rtn" }
func (RTN) Summary() string {
	return "round to nearest, 2-8 bits, symmetric or asymmetric, per tensor / channel / group"
}
func (RTN) Options() []string                       { return nil }
func (RTN) Aux(Assignment) []safetensors.TensorSpec { return nil }
func (RTN) Prepare(s *Spec) error                   { return checkBits(s.Bits, 2, 8) }

func (RTN) NeedsCalibration() bool { return false }

// Quantize is implemented in the quantizer work (see issue 4).
func (RTN) Quantize(w []float32, a Assignment, st *Stats) (*Quantized, error) {
	return nil, errNotImplemented("rtn")
}
