package eval

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/runtime"
)

// KLResult compares a model with a baseline model (usually the unquantised
// one) on the same windows: the KL statistics of their next-token
// distributions and the perplexity of each, under the Perplexity protocol.
type KLResult struct {
	KLStats
	PPL         float64 `json:"ppl"` // the model's, equal to Perplexity's
	MeanNLL     float64 `json:"mean_nll"`
	PPLBase     float64 `json:"ppl_base"` // the baseline's, equal to Perplexity's
	MeanNLLBase float64 `json:"mean_nll_base"`
	DeltaPPL    float64 `json:"delta_ppl"` // PPL - PPLBase
	PPLRatio    float64 `json:"ppl_ratio"` // PPL / PPLBase
	Tokens      int     `json:"tokens"`    // tokens evaluated (windows × seq_len)
	TextTokens  int     `json:"text_tokens"`
	Windows     int     `json:"windows"`
	SeqLen      int     `json:"seq_len"`
	Seconds     float64 `json:"seconds"`
	TokensPerS  float64 `json:"tokens_per_second"` // per model: tokens / seconds for both passes

	WindowNLL     []float64 `json:"-"` // the model's mean loss per window
	WindowNLLBase []float64 `json:"-"`
}

// Compare is CompareContext without cancellation.
func Compare(m, base *runtime.Model, ids []int, seqLen, maxWindows int, progress Progress, opts ...Options) (KLResult, error) {
	return CompareContext(context.Background(), m, base, ids, seqLen, maxWindows, progress, opts...)
}

// CompareContext runs m and base over the windows Perplexity uses and, at
// every position it scores (0..seq_len-2 of each window, predicting the
// next token), measures KL(P_base || P_m) and whether both models' top
// token agrees. Logits are compared window by window and never stored.
// It stops between windows when ctx is cancelled, returning ctx's error.
// Windows are evaluated by Options.Workers goroutines at once (by default
// DefaultWorkers, capped by the memory budget: each window in flight holds
// both models' seq_len×vocab logits) and folded into the statistics in
// window order, so the result does not depend on the number of workers;
// progress is called from one goroutine with the number of windows
// finished.
func CompareContext(ctx context.Context, m, base *runtime.Model, ids []int, seqLen, maxWindows int, progress Progress, opts ...Options) (KLResult, error) {
	if v, vb := m.Config.VocabSize, base.Config.VocabSize; v != vb {
		return KLResult{}, fmt.Errorf("the model has a vocabulary of %d tokens and the baseline %d: they cannot be compared", v, vb)
	}
	windows, r, acc, err := startCompare(ids, seqLen, maxWindows)
	if err != nil {
		return KLResult{}, err
	}
	start := time.Now()
	perWindow := max(WindowBytes(m.Config, seqLen, true), WindowBytes(base.Config, seqLen, true))
	w := firstOptions(opts).workers(len(windows), perWindow, m, base)
	// Each window's positions wait here until every earlier window is
	// folded in, so the statistics are accumulated in window order.
	pending := make([][]rowComparison, len(windows))
	slots := &windowSlots{ready: make([]bool, len(windows)), fold: func(i int) {
		for _, p := range pending[i] {
			acc.add(p)
		}
		pending[i] = nil
	}}
	err = forWindows(ctx, len(windows), w, func(i int) error {
		wc, err := compareWindow(m, base, windows[i])
		if err != nil {
			return err
		}
		r.WindowNLL[i], r.WindowNLLBase[i] = runtime.MeanNLL(wc.nll), runtime.MeanNLL(wc.nllBase)
		pending[i] = wc.rows
		return nil
	}, slots.done, progress)
	if err != nil {
		return KLResult{}, err
	}
	r.finish(start, acc)
	return r, nil
}

// startCompare cuts the windows and sets up a comparison's result and
// accumulator.
func startCompare(ids []int, seqLen, maxWindows int) ([][]int, KLResult, *klAccumulator, error) {
	windows := Windows(ids, seqLen, maxWindows)
	if len(windows) == 0 {
		return nil, KLResult{}, nil, fmt.Errorf("the text has %d tokens, fewer than one window of %d", len(ids), seqLen)
	}
	r := KLResult{TextTokens: len(ids), Windows: len(windows), SeqLen: seqLen, Tokens: len(windows) * seqLen,
		WindowNLL: make([]float64, len(windows)), WindowNLLBase: make([]float64, len(windows))}
	return windows, r, &klAccumulator{values: make([]float64, 0, len(windows)*(seqLen-1))}, nil
}

// finish computes the summary fields from the windows' losses and the
// accumulated positions.
func (r *KLResult) finish(start time.Time, acc *klAccumulator) {
	r.Seconds = time.Since(start).Seconds()
	r.TokensPerS = float64(r.Tokens) / r.Seconds
	r.MeanNLL, r.MeanNLLBase = runtime.MeanNLL(r.WindowNLL), runtime.MeanNLL(r.WindowNLLBase)
	r.PPL, r.PPLBase = math.Exp(r.MeanNLL), math.Exp(r.MeanNLLBase)
	r.DeltaPPL, r.PPLRatio = r.PPL-r.PPLBase, r.PPL/r.PPLBase
	r.KLStats = acc.stats()
}

// windowComparison is one window's per-position results, in order.
type windowComparison struct {
	rows         []rowComparison
	nll, nllBase []float64 // next-token losses, as runtime.Model.NLL computes them
}

// compareWindow runs both models over one window and compares every
// scored position; errors name the first position that failed.
func compareWindow(m, base *runtime.Model, w []int) (windowComparison, error) {
	lm, err := m.Logits(w)
	if err != nil {
		return windowComparison{}, err
	}
	lb, err := base.Logits(w)
	if err != nil {
		return windowComparison{}, fmt.Errorf("baseline: %w", err)
	}
	V, n := m.Config.VocabSize, len(w)-1
	wc := windowComparison{rows: make([]rowComparison, n), nll: make([]float64, n), nllBase: make([]float64, n)}
	errs := make([]error, n)
	parallel.For(n, 16, func(lo, hi int) {
		scratch := make([]float64, V)
		for t := lo; t < hi; t++ {
			rm, rb := lm[t*V:(t+1)*V], lb[t*V:(t+1)*V]
			wc.nll[t], wc.nllBase[t] = nextTokenNLL(rm, w[t+1]), nextTokenNLL(rb, w[t+1])
			wc.rows[t], errs[t] = compareRows(rb, rm, scratch)
			if errs[t] == nil && !(isFinite(wc.nll[t]) && isFinite(wc.nllBase[t])) {
				errs[t] = fmt.Errorf("next-token loss %g (model), %g (baseline)", wc.nll[t], wc.nllBase[t])
			}
		}
	})
	for t, err := range errs {
		if err != nil {
			return windowComparison{}, fmt.Errorf("position %d: %w", t, err)
		}
	}
	return wc, nil
}

// nextTokenNLL is -log p(target) from one logits row, with the arithmetic
// of runtime.Model.NLL, so window losses (and ppl) match Perplexity's
// exactly.
func nextTokenNLL(row []float32, target int) float64 {
	return kernels.LogSumExp(row) - float64(row[target])
}

func isFinite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
