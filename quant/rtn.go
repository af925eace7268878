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
