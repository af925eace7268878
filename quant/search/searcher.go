package search

import (
	"context"
	"fmt"
	"strings"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/calib"
	"github.com/hyquant/hyquant/quant/ckpt"
	"github.com/hyquant/hyquant/runtime"
)

// Searcher measures choices of a space on a model: each tensor quantised
// alone against the float model (the sensitivities), and whole assignments
// (the refinement).
type Searcher struct {
	Space   *Space
	base    *runtime.Model
	weights runtime.WeightSource // the float weights (quantisers read them)
	stats   map[string]*quant.Stats
	sens    *Scorer // the windows the sensitivities are measured on
	held    *Scorer // held-out windows: they decide the refinement
	records *Records
	ctx     context.Context
	cache   map[[2]int]any // quantised choices: kernels.Linear or runtime.Embedder
	costs   [][]float64    // the sensitivities, once measured
	// sensBase is the float model's own objective on the sensitivity
	// windows (0 for ppl; float32 rounding for kl): increases count from it.
	sensBase float64
}

// Setup is what a Searcher is built from.
type Setup struct {
	Space   *Space
	Model   *runtime.Model       // the float model
	Weights runtime.WeightSource // its weights
	// Calibration segments: the importance matrices and GPTQ's Hessians come
	// from the float model's inputs on them.
	Calibration [][]int
	// Sensitivity and HeldOut windows; nil for the proxy objective.
	Sensitivity, HeldOut [][]int
	Objective            Objective
	Records              *Records
	Context              context.Context
	// Progress reports the calibration pass (segments done of total).
	Progress func(done, total int)
}

// NewSearcher gathers calibration statistics and runs the float model over
// the search's windows once.
func NewSearcher(su Setup) (*Searcher, error) {
	s := &Searcher{Space: su.Space, base: su.Model, weights: su.Weights, records: su.Records, ctx: su.Context, cache: map[[2]int]any{}}
	if s.ctx == nil {
		s.ctx = context.Background()
	}
	if len(su.Calibration) > 0 {
		st, err := collectStats(s.ctx, su.Model, su.Calibration, su.Progress)
		if err != nil {
			return nil, err
		}
		s.stats = st
	}
	if su.Objective == Proxy {
		return s, nil
	}
	var err error
	if s.sens, err = NewScorer(su.Model, su.Objective, su.Sensitivity); err != nil {
		return nil, fmt.Errorf("sensitivity windows: %w", err)
	}
	if s.held, err = NewScorer(su.Model, su.Objective, su.HeldOut); err != nil {
		return nil, fmt.Errorf("held-out windows: %w", err)
	}
	if s.sensBase, err = s.sens.Score(s.base, len(s.base.Blocks)); err != nil {
		return nil, fmt.Errorf("float model on the sensitivity windows: %w", err)
	}
	return s, nil
}

// collectStats runs the float model over the segments, one at a time (so
// the float64 sums are added in one order), observing every projection's
// input.
func collectStats(ctx context.Context, m *runtime.Model, segs [][]int, progress func(done, total int)) (map[string]*quant.Stats, error) {
	var names []string
	for _, sl := range m.Linears() {
		names = append(names, sl.Name)
	}
	col := calib.NewCollector(names...)
	m.Observer = col
	defer func() { m.Observer = nil }()
	for i, seg := range segs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := m.NLL(seg); err != nil {
			return nil, fmt.Errorf("calibration segment %d: %w", i, err)
		}
		if progress != nil {
			progress(i+1, len(segs))
		}
	}
	return col.Stats, nil
}

// quantized quantises tensor t in its choice k from the float weights.
func (s *Searcher) quantized(t, k int) (*quant.Quantized, error) {
	tt := s.Space.Tensors[t]
	c := tt.Options[k]
	w, err := s.weights.Float32(tt.Param.Name, tt.Param.Shape...)
	if err != nil {
		return nil, err
	}
	a := quant.Assignment{Param: tt.Param, Stored: tt.Stored, Spec: c.Spec, Rows: tt.Rows, Cols: tt.Cols}
	var st *quant.Stats
	if a.NeedsCalibration() {
		if st = s.stats[tt.Param.Name]; st == nil {
			return nil, fmt.Errorf("%s in %s needs calibration statistics and has none", tt.Param.Name, c.Format.Name)
		}
	}
	m, _ := quant.Lookup(c.Spec.Method)
	q, err := m.Quantize(w, a, st)
	if err != nil {
		return nil, fmt.Errorf("quantising %s into %s: %w", tt.Param.Name, c.Format.Name, err)
	}
	return q, nil
}

// choice returns the kernel of tensor t in choice k: a kernels.Linear for
// a projection, a runtime.Embedder for the embedding. Built once.
func (s *Searcher) choice(t, k int) (any, error) {
	key := [2]int{t, k}
	if v, ok := s.cache[key]; ok {
		return v, nil
	}
	tt := s.Space.Tensors[t]
	c := tt.Options[k]
	name := tt.Param.Name
	pw := &ckpt.PackedWeights{Float: s.weights, Results: map[string]*quant.Quantized{}, Specs: map[string]quant.Spec{name: c.Spec}}
	if !c.Spec.Keep {
		q, err := s.quantized(t, k)
		if err != nil {
			return nil, err
		}
		pw.Results[name] = q
	}
	var v any
	var err error
	if tt.Param.Category == runtime.Embedding {
		v, err = pw.Embedding(name, tt.Rows, tt.Cols)
	} else {
		bias := ""
		if b := strings.TrimSuffix(name, ".weight") + ".bias"; b != name {
			if _, ok := s.Space.Inventory.Lookup(b); ok {
				bias = b
			}
		}
		v, err = pw.Linear(name, tt.Rows, tt.Cols, bias)
	}
	if err != nil {
		return nil, err
	}
	s.cache[key] = v
	return v, nil
}

// variant is the float model with the tensors choice names replaced
// (tensor t by its choice choice[t]; the others float); from is the first
// block whose input differs from the float model's.
func (s *Searcher) variant(choice map[int]int) (*runtime.Model, int, error) {
	m := s.base.Clone()
	L := len(m.Blocks)
	from := L
	slots := map[string]runtime.LinearSlot{}
	for _, sl := range m.Linears() {
		slots[sl.Name] = sl
	}
	for t, k := range choice {
		tt := s.Space.Tensors[t]
		if tt.Options[k].Format.lossless(tt.Stored) {
			continue
		}
		v, err := s.choice(t, k)
		if err != nil {
			return nil, 0, err
		}
		from = min(from, s.startBlock(tt.Param))
		if tt.Param.Category == runtime.Embedding {
			m.Embed = v.(runtime.Embedder)
			continue
		}
		sl, ok := slots[tt.Param.Name]
		if !ok {
			return nil, 0, fmt.Errorf("the model has no projection %s", tt.Param.Name)
		}
		*sl.Ptr = v.(kernels.Linear)
	}
	return m, from, nil
}

// startBlock is the first block whose input changes when parameter p
// does: 0 for the embedding, its own block for a block's projection,
// len(Blocks) for lm_head (only norm_f and lm_head run after the blocks).
func (s *Searcher) startBlock(p runtime.Param) int {
	switch {
	case p.Category == runtime.Embedding:
		return 0
	case p.Layer >= 0:
		return p.Layer
	}
	return len(s.base.Blocks)
}

// whole is the model under a full assignment.
func (s *Searcher) whole(pick []int) (*runtime.Model, int, error) {
	choice := make(map[int]int, len(pick))
	for t, k := range pick {
		choice[t] = k
	}
	return s.variant(choice)
}
