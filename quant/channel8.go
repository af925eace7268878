package quant

import (
	"fmt"

	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// Channel8 is the default 8-bit format: symmetric absmax int8 with one scale
// per output channel. It is RTN with those settings fixed.
type Channel8 struct{}

func init() { Register(Channel8{}) }

func (Channel8) Name() string { return "channel8" }
func (Channel8) Summary() string {
	return "symmetric absmax int8, one scale per output channel (the default 8-bit format)"
}
func (Channel8) Options() []string                       { return nil }
func (Channel8) Aux(Assignment) []safetensors.TensorSpec { return nil }

// Prepare fixes bits 8, per-channel, symmetric; explicit other values are errors.
func (Channel8) Prepare(s *Spec) error {
	if s.Bits == 0 {
		s.Bits = 8
	}
	if s.Bits != 8 || s.Granularity.Kind != grid.PerChannel || !s.Symmetric {
		return fmt.Errorf("channel8 is 8-bit, per-channel and symmetric; use rtn for %d bits %s symmetric=%v", s.Bits, s.Granularity, s.Symmetric)
	}
	return nil
}

// NeedsCalibration is false: absmax scales come from the weights.
func (Channel8) NeedsCalibration(Spec) bool { return false }

// Quantize is RTN under the fixed channel8 scheme (symmetric, 8 bits, one
// scale per output channel); the scale dtype is the spec's (fp16 by default).
func (Channel8) Quantize(w []float32, a Assignment, st *Stats) (*Quantized, error) {
	if err := checkWeights("channel8", w, a); err != nil {
		return nil, err
	}
	sc := grid.Scheme{Bits: 8, Symmetric: true, ScaleDType: a.Spec.ScaleDType}
	if sc.ScaleDType == "" {
		sc.ScaleDType = safetensors.F16
	}
	q, err := grid.RoundToNearest(widen(w), grid.Grid{Rows: a.Rows, Cols: a.Cols, Granularity: grid.Granularity{Kind: grid.PerChannel}}, sc)
	if err != nil {
		return nil, err
	}
	return &Quantized{Q: q}, nil
}
