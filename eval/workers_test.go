package eval

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/runtime"
)

// miniWindows opens the mini model and returns it with the tokens of
// exactly n windows of seqLen tokens of the WikiText-2 test text.
func miniWindows(tb testing.TB, n, seqLen int) (*runtime.Loaded, []int) {
	tb.Helper()
	l, err := runtime.OpenModel("../models/nemotron-h-mini", runtime.WeightsFloat32)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	ids := l.Tokenizer.Encode(JoinRows(datasets.MustEmbedded(datasets.WikiText2Test).Body[:8*n*seqLen]))
	if len(ids) < n*seqLen {
		tb.Fatalf("%d tokens, want %d", len(ids), n*seqLen)
	}
	return l, ids[:n*seqLen]
}

// untimed formats a result without its timings; %v writes every float in
// the shortest form that reads back to the same bits, so equal strings
// mean bit-identical values.
func untimed(r any) string {
	switch v := r.(type) {
	case Result:
		v.Seconds, v.TokensPerS = 0, 0
		return fmt.Sprintf("%+v", v)
	case KLResult:
		v.Seconds, v.TokensPerS = 0, 0
		return fmt.Sprintf("%+v", v)
	}
	panic("untimed: not a result")
}

// checkProgress checks that progress counted 1, 2, … total.
func checkProgress(t *testing.T, calls [][2]int, total int) {
	t.Helper()
	if len(calls) != total {
		t.Fatalf("%d progress calls, want %d: %v", len(calls), total, calls)
	}
	for i, c := range calls {
		if c != [2]int{i + 1, total} {
			t.Fatalf("progress call %d was %v, want [%d %d]", i, c, i+1, total)
		}
	}
}

// countingHead counts the windows whose logits it computes.
type countingHead struct {
	kernels.Linear
	calls *atomic.Int32
}

func (h countingHead) Apply(y, x []float32, n int) {
	h.calls.Add(1)
	h.Linear.Apply(y, x, n)
}

// Evaluating 4 windows with 3 workers gives the same Result and KLResult
// as one window at a time, bit for bit, with progress 1, 2, 3, 4.
func TestWorkersGiveIdenticalResults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the mini model")
	}
	l, ids := miniWindows(t, 4, 64)
	q := *l.Model
	q.LMHead = inputQuantHead{l.Model.LMHead}

	var results []string
	for _, w := range []int{1, 3} {
		var calls [][2]int
		r, err := Perplexity(&q, ids, 64, 0, func(done, total int) { calls = append(calls, [2]int{done, total}) }, Options{Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		checkProgress(t, calls, 4)
		calls = nil
		k, err := Compare(&q, l.Model, ids, 64, 0, func(done, total int) { calls = append(calls, [2]int{done, total}) }, Options{Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		checkProgress(t, calls, 4)
		if r.Windows != 4 || k.Positions != 4*63 || !(k.MeanKL > 0) || k.PPL != r.PPL {
			t.Fatalf("workers %d: %+v\n%+v", w, r, k)
		}
		results = append(results, untimed(r)+"\n"+untimed(k)+fmt.Sprintf("\n%v %v %v", r.WindowNLL, k.WindowNLL, k.WindowNLLBase))
	}
	if results[0] != results[1] {
		t.Errorf("1 worker:\n%s\n3 workers:\n%s", results[0], results[1])
	}
}

// With several workers the error is that of the lowest-numbered failing
// window, as with one, and cancellation stops the evaluation: windows
// already started finish, no new one starts.
func TestWorkersErrorsAndCancellation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the mini model")
	}
	l, ids := miniWindows(t, 6, 64)
	bad := *l.Model
	bad.LMHead = nanHead{l.Model.LMHead, 5, 3}
	for _, w := range []int{1, 3} {
		_, err := Compare(&bad, l.Model, ids, 64, 0, nil, Options{Workers: w})
		if err == nil || !strings.Contains(err.Error(), "window 0: position 5: model logits: logit 3 is NaN") {
			t.Errorf("workers %d: %v", w, err)
		}
	}

	for _, w := range []int{1, 2} {
		var calls atomic.Int32
		m := *l.Model
		m.LMHead = countingHead{l.Model.LMHead, &calls}
		ctx, cancel := context.WithCancel(context.Background())
		_, err := PerplexityContext(ctx, &m, ids, 64, 0, func(done, total int) {
			if done == 1 {
				cancel()
			}
		}, Options{Workers: w})
		cancel()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("workers %d: error %v, want cancelled", w, err)
		}
		// NLL applies the head once per window of 64 tokens. Progress reports
		// windows in order, so when it reports the first, up to w more may
		// have finished and w more started: at most 2w+1 of the 6 run.
		if n := int(calls.Load()); n > 2*w+1 || n >= 6 {
			t.Errorf("workers %d: %d windows evaluated after cancelling in the first", w, n)
		}
		if _, err := PerplexityContext(ctx, &m, ids, 64, 0, nil, Options{Workers: w}); !errors.Is(err, context.Canceled) {
			t.Errorf("workers %d, cancelled before: %v", w, err)
		}
	}
}

type nopObserver struct{}

func (nopObserver) ObserveLinearInput(string, []float32, int, int) {}

func TestWorkerCount(t *testing.T) {
	c, err := runtime.LoadConfig("../models/nemotron-h-8b-base-8k/config.json")
	if err != nil {
		t.Fatal(err)
	}
	m := &runtime.Model{Config: c}
	perp, cmp := WindowBytes(c, 1024, false), WindowBytes(c, 1024, true)
	if !(perp > 150<<20 && perp < 300<<20) || !(cmp > 1<<30 && cmp < 1400<<20) {
		t.Errorf("8B window estimates %d and %d bytes", perp, cmp)
	}
	want := min(DefaultWorkers(), 100, int(DefaultMemoryBudget/perp))
	if got := (Options{}).workers(100, perp, m); got != want {
		t.Errorf("8B perplexity: %d workers, want %d", got, want)
	}
	if got := (Options{}).workers(100, cmp, m); got != 1 {
		t.Errorf("8B compare: %d workers, want 1", got)
	}
	if got := (Options{MemoryBudget: 1 << 40}).workers(3, perp, m); got != min(3, DefaultWorkers()) {
		t.Errorf("3 windows: %d workers", got)
	}
	if got := (Options{Workers: 5}).workers(100, cmp, m); got != 5 {
		t.Errorf("explicit 5 workers: %d", got)
	}
	if got := (Options{Workers: 5}).workers(2, cmp, m); got != 2 {
		t.Errorf("explicit 5 workers, 2 windows: %d", got)
	}
	o := &runtime.Model{Config: c, Observer: nopObserver{}}
	if got := (Options{Workers: 4}).workers(100, perp, m, o); got != 1 {
		t.Errorf("with an observer: %d workers", got)
	}
	if DefaultWorkers() < 1 {
		t.Errorf("DefaultWorkers %d", DefaultWorkers())
	}
}
