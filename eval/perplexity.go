package eval

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/hyquant/hyquant/runtime"
)

// Windows cuts a token stream into non-overlapping windows of seqLen
// tokens; the tail shorter than a window is dropped. maxWindows > 0 keeps
// only the first maxWindows windows.
func Windows(ids []int, seqLen, maxWindows int) [][]int {
	if seqLen < 2 {
		return nil
	}
	n := len(ids) / seqLen
	if maxWindows > 0 && maxWindows < n {
		n = maxWindows
	}
	out := make([][]int, n)
	for i := range out {
		out[i] = ids[i*seqLen : (i+1)*seqLen]
	}
	return out
}

// Result is one perplexity evaluation.
type Result struct {
	PPL        float64   `json:"ppl"`
	MeanNLL    float64   `json:"mean_nll"`
	Tokens     int       `json:"tokens"` // tokens evaluated (windows × seq_len)
	TextTokens int       `json:"text_tokens"`
	Windows    int       `json:"windows"`
	SeqLen     int       `json:"seq_len"`
	Seconds    float64   `json:"seconds"`
	TokensPerS float64   `json:"tokens_per_second"`
	WindowNLL  []float64 `json:"-"`
}

// Progress is called after each window with the windows done and the total.
type Progress func(done, total int)

// Perplexity evaluates a model under the reference protocol: each window's
// loss is the mean next-token loss over its seq_len-1 targets, and
// ppl = exp(mean over windows of the window losses). opts (at most one)
// sets how many windows run at once; the result does not depend on it.
func Perplexity(m *runtime.Model, ids []int, seqLen, maxWindows int, progress Progress, opts ...Options) (Result, error) {
	return PerplexityContext(context.Background(), m, ids, seqLen, maxWindows, progress, opts...)
}

// PerplexityContext is Perplexity that stops between windows when ctx is
// cancelled, returning ctx's error. Windows are evaluated by
// Options.Workers goroutines at once (by default DefaultWorkers, capped by
// the memory budget and the number of windows); progress is called from
// one goroutine with the number of windows finished.
func PerplexityContext(ctx context.Context, m *runtime.Model, ids []int, seqLen, maxWindows int, progress Progress, opts ...Options) (Result, error) {
	windows, r, err := startPerplexity(ids, seqLen, maxWindows)
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	w := firstOptions(opts).workers(len(windows), WindowBytes(m.Config, seqLen, false), m)
	err = forWindows(ctx, len(windows), w, func(i int) error {
		nll, err := m.NLL(windows[i])
		if err != nil {
			return err
		}
		r.WindowNLL[i] = runtime.MeanNLL(nll)
		return nil
	}, func(int) {}, progress)
	if err != nil {
		return Result{}, err
	}
	r.finish(start)
	return r, nil
}

// startPerplexity cuts the windows and sets up their result.
func startPerplexity(ids []int, seqLen, maxWindows int) ([][]int, Result, error) {
	windows := Windows(ids, seqLen, maxWindows)
	if len(windows) == 0 {
		return nil, Result{}, fmt.Errorf("the text has %d tokens, fewer than one window of %d", len(ids), seqLen)
	}
	return windows, Result{TextTokens: len(ids), Windows: len(windows), SeqLen: seqLen, Tokens: len(windows) * seqLen, WindowNLL: make([]float64, len(windows))}, nil
}

// finish computes the summary fields from the windows' losses.
func (r *Result) finish(start time.Time) {
	r.Seconds = time.Since(start).Seconds()
	r.TokensPerS = float64(r.Tokens) / r.Seconds
	r.MeanNLL = runtime.MeanNLL(r.WindowNLL)
	r.PPL = math.Exp(r.MeanNLL)
}
