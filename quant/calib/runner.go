package calib

import (
	"fmt"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/runtime"
)

// BlockRunner runs the calibrated pass's blocks somewhere other than the
// CPU runtime (a GPU: cmd/hyquant wires runtime/gpu's Pass), holding every
// segment's hidden state itself. The quantisers still run on the host, on
// the statistics it returns.
type BlockRunner interface {
	// Observe runs block i over every segment, leaving the states as they
	// were, and returns the input statistics of the named projections;
	// block -1 is lm_head (its input is norm_f of the last block's output).
	Observe(block int, names []string) (map[string]*quant.Stats, error)
	// Advance runs block i over every segment in place.
	Advance(block int) error
	// Replace makes the runner use l for the projection name from now on.
	Replace(name string, l kernels.Linear) error
	Close()
}

// NewRunner makes a BlockRunner for the model (its float and already
// quantised layers) and the calibration segments.
type NewRunner func(m *runtime.Model, segs [][]int) (BlockRunner, error)

// runOn is run with the blocks on a BlockRunner.
func (s *sequential) runOn(r BlockRunner) error {
	byLayer := slotsByLayer(s.model)
	layers := make([]int, 0, len(s.model.Blocks)+1)
	for i := range s.model.Blocks {
		layers = append(layers, i)
	}
	for _, i := range append(layers, -1) {
		if err := s.opts.cancelled(); err != nil {
			return err
		}
		groups, groupNames := s.pendingGroups(byLayer[i])
		for gi, group := range groups {
			names := groupNames[gi]
			stats, err := r.Observe(i, names)
			if err != nil {
				return err
			}
			var unsupported error
			observe := func(runtime.Observer) {
				unsupported = fmt.Errorf("%s: static activation scales of rotated layers are measured on the transformed inputs, which only the CPU pass shows (use the CPU)", names[0])
			}
			if err := s.quantizeGroup(group, &Collector{Stats: stats}, observe); err != nil {
				return err
			}
			if unsupported != nil {
				return unsupported
			}
			quantised := map[string]bool{}
			for _, n := range names {
				quantised[n] = true
			}
			for _, sl := range group {
				if !quantised[sl.Name] {
					continue
				}
				if err := r.Replace(sl.Name, *sl.Ptr); err != nil {
					return err
				}
			}
		}
		if i >= 0 {
			if err := r.Advance(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// NewCPURunner is the reference BlockRunner: the CPU runtime behind the
// interface, on its own copy of the model, one segment at a time (what
// the built-in pass computes, bit for bit). Tests check other runners
// against it.
func NewCPURunner(m *runtime.Model, segs [][]int) (BlockRunner, error) {
	r := &cpuRunner{m: m.Clone(), segs: segs}
	for i, s := range segs {
		h, err := r.m.EmbedTokens(s)
		if err != nil {
			return nil, fmt.Errorf("calibration segment %d: %w", i, err)
		}
		r.hs = append(r.hs, h)
	}
	return r, nil
}

type cpuRunner struct {
	m    *runtime.Model
	hs   [][]float32
	segs [][]int
}

func (r *cpuRunner) Observe(block int, names []string) (map[string]*quant.Stats, error) {
	col := NewCollector(names...)
	d := r.m.Config.HiddenSize
	for k, s := range r.segs {
		if block < 0 {
			for _, n := range names {
				col.ObserveLinearInput(n, r.m.FinalNorm(r.hs[k], len(s)), len(s), d)
			}
			continue
		}
		c := r.m.Clone()
		c.Observer = col
		c.RunBlock(block, append([]float32(nil), r.hs[k]...), len(s))
	}
	return col.Stats, nil
}

func (r *cpuRunner) Advance(block int) error {
	for k, s := range r.segs {
		r.m.RunBlock(block, r.hs[k], len(s))
	}
	return nil
}

func (r *cpuRunner) Replace(name string, l kernels.Linear) error {
	for _, sl := range r.m.Linears() {
		if sl.Name == name {
			*sl.Ptr = l
			return nil
		}
	}
	return fmt.Errorf("no projection %s", name)
}

func (r *cpuRunner) Close() {}
