package eval

import (
	"context"
	"fmt"
	"time"

	"github.com/hyquant/hyquant/runtime"
)

// Position is one scored position of a comparison, as CompareContext
// computes it: KL(P_base || P_model) in nats, both next-token losses and
// both argmax tokens.
type Position struct {
	KL, NLL, NLLBase float64
	Top, TopBase     int
}

// BatchNLL evaluates a batch of equal-length windows at once (a GPU's
// forward pass: runtime/gpu.Model.NLL), returning each window's len-1
// next-token losses.
type BatchNLL func(windows [][]int) ([][]float64, error)

// BatchCompare compares a model with a baseline on a batch of
// equal-length windows at once, returning each window's len-1 positions.
type BatchCompare func(windows [][]int) ([][]Position, error)

// batches runs work over the windows batch at a time, stopping between
// batches when ctx is cancelled, reporting progress after each.
func batches(ctx context.Context, windows [][]int, batch int, progress Progress, work func(i int, ws [][]int) error) error {
	batch = max(1, batch)
	for i := 0; i < len(windows); i += batch {
		if ctx != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		j := min(len(windows), i+batch)
		if err := work(i, windows[i:j]); err != nil {
			return err
		}
		if progress != nil {
			progress(j, len(windows))
		}
	}
	return nil
}

// checkBatch refuses a batch evaluator's answer that does not hold one
// result per window and seqLen-1 positions in each.
func checkBatch(got, want int, positions func(k int) int, seqLen int) error {
	if got != want {
		return fmt.Errorf("the batch evaluator returned %d windows for %d", got, want)
	}
	for k := 0; k < got; k++ {
		if p := positions(k); p != seqLen-1 {
			return fmt.Errorf("the batch evaluator returned %d positions for window %d, want %d", p, k, seqLen-1)
		}
	}
	return nil
}

// PerplexityBatches is PerplexityContext over a BatchNLL, batch windows at
// a time: the same windows and the same per-window means, taken on the host
// in the CPU's order.
func PerplexityBatches(ctx context.Context, nll BatchNLL, batch int, ids []int, seqLen, maxWindows int, progress Progress) (Result, error) {
	windows, r, err := startPerplexity(ids, seqLen, maxWindows)
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	err = batches(ctx, windows, batch, progress, func(i int, ws [][]int) error {
		out, err := nll(ws)
		if err != nil {
			return err
		}
		if err := checkBatch(len(out), len(ws), func(k int) int { return len(out[k]) }, seqLen); err != nil {
			return err
		}
		for k, w := range out {
			r.WindowNLL[i+k] = runtime.MeanNLL(w)
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	r.finish(start)
	return r, nil
}

// CompareBatches is CompareContext over a BatchCompare, batch windows at a
// time, the positions folded into the statistics in window order.
func CompareBatches(ctx context.Context, compare BatchCompare, batch int, ids []int, seqLen, maxWindows int, progress Progress) (KLResult, error) {
	windows, r, acc, err := startCompare(ids, seqLen, maxWindows)
	if err != nil {
		return KLResult{}, err
	}
	start := time.Now()
	err = batches(ctx, windows, batch, progress, func(i int, ws [][]int) error {
		out, err := compare(ws)
		if err != nil {
			return err
		}
		if err := checkBatch(len(out), len(ws), func(k int) int { return len(out[k]) }, seqLen); err != nil {
			return err
		}
		for k, ps := range out {
			nll, nllBase := make([]float64, len(ps)), make([]float64, len(ps))
			for t, p := range ps {
				if !isFinite(p.KL) || !isFinite(p.NLL) || !isFinite(p.NLLBase) {
					return fmt.Errorf("window %d, position %d: KL %g, next-token loss %g (model), %g (baseline)", i+k, t, p.KL, p.NLL, p.NLLBase)
				}
				nll[t], nllBase[t] = p.NLL, p.NLLBase
				acc.add(rowComparison{KL: p.KL, Top: p.Top, TopBase: p.TopBase})
			}
			r.WindowNLL[i+k], r.WindowNLLBase[i+k] = runtime.MeanNLL(nll), runtime.MeanNLL(nllBase)
		}
		return nil
	})
	if err != nil {
		return KLResult{}, err
	}
	r.finish(start, acc)
	return r, nil
}
