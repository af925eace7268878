package search

import (
	"fmt"
	"math"

	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/runtime"
)

// Objective is what a search minimises over a set of windows.
type Objective string

const (
	// KL is the mean KL(P_float || P_quantised) of the next-token
	// distributions over every scored position (llama.cpp's
	// --kl-divergence definition), in nats.
	KL Objective = "kl"
	// PPL is the increase in mean next-token loss (log perplexity) over the
	// float model's, in nats.
	PPL Objective = "ppl"
	// Proxy is no forward pass at all: each tensor's relative weight error
	// under its calibration importance (or unweighted without calibration),
	// scaled by its share of the parameters. For models too large to run
	// here; its additivity is not checked.
	Proxy Objective = "proxy"
)

// ParseObjective reads an objective name.
func ParseObjective(s string) (Objective, error) {
	switch o := Objective(s); o {
	case KL, PPL, Proxy:
		return o, nil
	}
	return "", fmt.Errorf("objective %q is not kl, ppl or proxy", s)
}

// Scorer measures an objective on fixed windows against the float model.
// It caches what every measurement shares: each block's input under the
// float model (so a model that differs from it only from block l on is run
// from block l), and the float model's next-token distributions.
type Scorer struct {
	objective Objective
	windows   [][]int
	// inputs[l][w] is block l's input for window w under the float model;
	// inputs[len(Blocks)][w] is the last block's output.
	inputs [][][]float32
	prob   [][]float32 // KL: the float model's next-token probabilities, (n-1)×V per window
	negEnt [][]float64 // KL: Σ p log p per position
	nll    []float64   // PPL: the float model's summed next-token loss per window
}

// NewScorer runs the float model over the windows once.
func NewScorer(base *runtime.Model, objective Objective, windows [][]int) (*Scorer, error) {
	if objective != KL && objective != PPL {
		return nil, fmt.Errorf("a scorer measures kl or ppl, not %q", objective)
	}
	if len(windows) == 0 {
		return nil, fmt.Errorf("a scorer needs at least one window")
	}
	for i, w := range windows {
		if len(w) < 2 {
			return nil, fmt.Errorf("window %d has %d tokens; at least 2 are needed", i, len(w))
		}
	}
	s := &Scorer{objective: objective, windows: windows}
	states, err := s.run(base, 0, nil, true)
	if err != nil {
		return nil, err
	}
	s.inputs = states
	L := len(base.Blocks)
	V := base.Config.VocabSize
	s.prob = make([][]float32, len(windows))
	s.negEnt = make([][]float64, len(windows))
	s.nll = make([]float64, len(windows))
	for w, ids := range windows {
		if objective == PPL {
			// s.nll[w] is still 0, so this is the float model's summed loss.
			s.nll[w] = s.windowObjective(base, w, ids, states[L][w])
			continue
		}
		n := len(ids) - 1
		logits := s.logits(base, states[L][w], len(ids))
		p := make([]float32, n*V)
		ne := make([]float64, n)
		parallel.For(n, 8, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				row := logits[t*V : (t+1)*V]
				lse := kernels.LogSumExp(row)
				var e float64
				for v, z := range row {
					lp := float64(z) - lse
					pv := math.Exp(lp)
					p[t*V+v] = float32(pv)
					e += float64(float32(pv)) * lp
				}
				ne[t] = e
			}
		})
		s.prob[w], s.negEnt[w] = p, ne
	}
	return s, nil
}

// Positions is the number of scored positions.
func (s *Scorer) Positions() int {
	n := 0
	for _, w := range s.windows {
		n += len(w) - 1
	}
	return n
}

// Tokens is the number of tokens the windows hold.
func (s *Scorer) Tokens() int {
	n := 0
	for _, w := range s.windows {
		n += len(w)
	}
	return n
}

// Score measures m, which must equal the float model in every block
// before from (from = len(Blocks) when only lm_head differs, 0 when the
// embedding does).
func (s *Scorer) Score(m *runtime.Model, from int) (float64, error) {
	v, _, err := s.score(m, from, nil, false)
	return v, err
}

// score runs m from block from, over the given block inputs (nil: the float
// model's), and returns the objective and, when keep is set, every block
// input from from on (states[l] for l ≥ from; earlier entries nil).
func (s *Scorer) score(m *runtime.Model, from int, in [][]float32, keep bool) (float64, [][][]float32, error) {
	if in == nil && from > 0 {
		in = s.inputs[from]
	}
	states, err := s.run(m, from, in, keep)
	if err != nil {
		return 0, nil, err
	}
	L := len(m.Blocks)
	per := make([]float64, len(s.windows))
	for w, ids := range s.windows {
		per[w] = s.windowObjective(m, w, ids, states[L][w])
	}
	var sum float64
	for _, v := range per {
		sum += v
	}
	val := sum / float64(s.Positions())
	if math.IsNaN(val) || math.IsInf(val, 0) {
		return 0, nil, fmt.Errorf("the objective is %v", val)
	}
	if !keep {
		states = nil
	}
	return val, states, nil
}

// windowObjective is one window's summed objective from its last hidden state.
func (s *Scorer) windowObjective(m *runtime.Model, w int, ids []int, h []float32) float64 {
	V := m.Config.VocabSize
	n := len(ids) - 1
	logits := s.logits(m, h, len(ids))
	per := make([]float64, n)
	parallel.For(n, 8, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			row := logits[t*V : (t+1)*V]
			lse := kernels.LogSumExp(row)
			if s.objective == PPL {
				per[t] = lse - float64(row[ids[t+1]])
				continue
			}
			p := s.prob[w][t*V : (t+1)*V]
			var pz, ps float64
			for v, z := range row {
				pz += float64(p[v]) * float64(z)
				ps += float64(p[v])
			}
			per[t] = s.negEnt[w][t] - pz + lse*ps
		}
	})
	var sum float64
	for _, v := range per {
		sum += v
	}
	if s.objective == PPL {
		return sum - s.nll[w]
	}
	return sum
}

// logits applies norm_f and lm_head to the positions that predict a token.
func (s *Scorer) logits(m *runtime.Model, h []float32, n int) []float32 {
	d, V := m.Config.HiddenSize, m.Config.VocabSize
	x := m.FinalNorm(h[:(n-1)*d], n-1)
	out := make([]float32, (n-1)*V)
	m.LMHead.Apply(out, x, n-1)
	return out
}

// run computes the block inputs from block from to the end for every window
// (windows in parallel when the model is small enough that one window does
// not fill the cores). With keep unset only the last state is kept.
func (s *Scorer) run(m *runtime.Model, from int, in [][]float32, keep bool) ([][][]float32, error) {
	L := len(m.Blocks)
	states := make([][][]float32, L+1)
	for l := from; l <= L; l++ {
		if keep || l == L {
			states[l] = make([][]float32, len(s.windows))
		}
	}
	errs := make([]error, len(s.windows))
	parallel.For(len(s.windows), 1, func(lo, hi int) {
		for w := lo; w < hi; w++ {
			ids := s.windows[w]
			var h []float32
			if from == 0 {
				if h, errs[w] = m.EmbedTokens(ids); errs[w] != nil {
					return
				}
			} else {
				h = append([]float32(nil), in[w]...)
			}
			for l := from; l < L; l++ {
				if keep {
					states[l][w] = append([]float32(nil), h...)
				}
				m.RunBlock(l, h, len(ids))
			}
			states[L][w] = h
		}
	})
	for w, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("window %d: %w", w, err)
		}
	}
	return states, nil
}
