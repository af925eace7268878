package eval

import (
	"context"
	"fmt"
	goruntime "runtime"
	"sync/atomic"

	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/runtime"
)

// Options tune how Perplexity and Compare run. The zero value chooses for
// the machine. No option changes a result: every per-window value is
// stored by window index and the sums and means are taken in window order,
// so a Result or KLResult is bit for bit the same for any Workers (only
// Seconds and TokensPerS differ).
type Options struct {
	// Workers is the number of windows evaluated at once, each by its own
	// goroutine (whose kernels still split over every CPU). 0 chooses
	// DefaultWorkers under MemoryBudget; a positive value is used as given,
	// capped only by the number of windows. Models with an Observer or a
	// HiddenHook are always evaluated one window at a time, in order, since
	// those callbacks are not expected to be called concurrently.
	Workers int
	// MemoryBudget caps, in bytes, the estimated working memory of the
	// windows in flight when Workers is 0; 0 means DefaultMemoryBudget. The
	// estimate (see WindowBytes) is of live arrays; the Go heap may grow to
	// about twice that between collections.
	MemoryBudget int64
}

// DefaultMemoryBudget is the working memory the default number of workers
// may use for windows in flight: 1 GiB. It holds about a dozen windows of
// 1024 tokens of the mini model's comparison (two 8192-token vocabularies
// of logits, 32 MiB each), four of the 8B's perplexity (activations of
// about 0.2 GB a window), and one of the 8B's comparison (two 131072-token
// logits arrays, 0.5 GB each).
const DefaultMemoryBudget int64 = 1 << 30

// DefaultWorkers is the number of windows evaluated at once when
// Options.Workers is 0, before the memory cap: GOMAXPROCS/2, and 2 from 2
// CPUs on (1 on one). Small models (the mini's matrices are 256 wide) do
// not split well over many cores inside one window, while windows are
// independent: on a 16-core host the mini's 1024-token windows ran at
// 8,560 tokens/s one at a time, 27,081 with 8 at once and 27,803 with 16;
// on 2 cores two at once beat one by 17-30 % (BENCHMARKS.md). Half as many
// windows as CPUs gets nearly all of the gain for half the memory in
// flight, and leaves each window's kernels (which still split over every
// CPU) room to fill the cores where one window's work runs short.
func DefaultWorkers() int {
	p := goruntime.GOMAXPROCS(0)
	return max(min(p, 2), p/2)
}

// WindowBytes estimates the working memory of one window of seqLen tokens
// in flight: the activations of the widest block (the residual stream, its
// normalised copy and the mixer's output, plus the mixer's intermediate
// arrays), and either NLL's block of at most 32 MiB of logits (perplexity)
// or two models' full seqLen×vocab logits (compare).
func WindowBytes(c *runtime.Config, seqLen int, compare bool) int64 {
	n := int64(seqLen)
	resid := 3 * int64(c.HiddenSize)
	mamba := int64(c.InProjOut() + c.ConvDim() + c.MambaIntermediate() + 2*c.MambaNumHeads)
	mlp := int64(c.IntermediateSize)
	q, kv := int64(c.NumAttentionHeads*c.HeadDim), int64(c.NumKeyValueHeads*c.HeadDim)
	attn := 2*q + 2*kv + 4*int64(c.HeadDim) + n // q, ctx, k, v, head copies, a row of scores
	acts := 4 * n * (resid + max(mamba, mlp, attn))
	v := int64(c.VocabSize)
	if compare {
		return acts + 2*4*n*v
	}
	return acts + min(32<<20, 4*n*v)
}

// workers is the number of windows to evaluate at once.
func (o Options) workers(windows int, perWindow int64, models ...*runtime.Model) int {
	for _, m := range models {
		if m.Observer != nil || m.HiddenHook != nil {
			return 1
		}
	}
	w := o.Workers
	if w <= 0 {
		w = DefaultWorkers()
		budget := o.MemoryBudget
		if budget <= 0 {
			budget = DefaultMemoryBudget
		}
		if perWindow > 0 {
			w = min(w, int(max(1, budget/perWindow)))
		}
	}
	return max(1, min(w, windows))
}

// firstOptions returns the options given to a variadic entry point.
func firstOptions(opts []Options) Options {
	if len(opts) > 0 {
		return opts[0]
	}
	return Options{}
}

// forWindows runs work(i) for the windows i = 0 … n-1 on w workers and
// calls done(i) and then progress after each window that succeeds, all on
// one goroutine, with the number of windows finished so far (windows
// finish in any order when w > 1). Windows are started in index order and
// no new one is started once ctx is cancelled or a window has failed;
// windows already started are waited for (at most one window's time), so
// nothing runs on the models once it returns. The error is that of the
// lowest-numbered failed window, as a sequential run would report, or
// ctx's error when windows were left unevaluated.
func forWindows(ctx context.Context, n, w int, work func(i int) error, done func(i int), progress Progress) error {
	if w <= 1 {
		for i := 0; i < n; i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := work(i); err != nil {
				return fmt.Errorf("window %d: %w", i, err)
			}
			done(i)
			if progress != nil {
				progress(i+1, n)
			}
		}
		return nil
	}
	type outcome struct {
		i   int // -1: a worker has stopped
		err error
	}
	results := make(chan outcome, w)
	var next atomic.Int64
	var stop atomic.Bool
	var failed error
	finished := 0
	// Part 0 collects the outcomes; parts 1 … w evaluate windows.
	parallel.Parts(w+1, w+1, func(part, _, _ int) {
		if part > 0 {
			for !stop.Load() && ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					break
				}
				err := work(i)
				if err != nil {
					stop.Store(true)
				}
				results <- outcome{i, err}
			}
			results <- outcome{i: -1}
			return
		}
		lowest := n
		for running := w; running > 0; {
			o := <-results
			switch {
			case o.i < 0:
				running--
			case o.err != nil:
				if o.i < lowest {
					lowest, failed = o.i, fmt.Errorf("window %d: %w", o.i, o.err)
				}
			default:
				finished++
				done(o.i)
				if progress != nil && failed == nil {
					progress(finished, n)
				}
			}
		}
	})
	if failed != nil {
		return failed
	}
	if finished < n {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// windowSlots keeps per-window values that must be folded in window order
// as windows finish in any order: fold(i) is called for 0, 1, 2, … as soon
// as every window up to i is ready.
type windowSlots struct {
	ready []bool
	next  int
	fold  func(i int)
}

// done marks window i ready; forWindows calls it from one goroutine.
func (s *windowSlots) done(i int) {
	s.ready[i] = true
	for s.next < len(s.ready) && s.ready[s.next] {
		s.fold(s.next)
		s.next++
	}
}
