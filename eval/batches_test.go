package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/runtime"
)

// TestBatchesMatchWindowByWindow drives PerplexityBatches and
// CompareBatches with the CPU runtime as the batch evaluator (batches of
// two windows, the last one short): the results must equal Perplexity's
// and Compare's exactly, since only the grouping of windows differs.
func TestBatchesMatchWindowByWindow(t *testing.T) {
	l, err := runtime.OpenModel("../models/nemotron-h-mini", runtime.WeightsFloat32)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	text, err := datasets.Load(datasets.WikiText2Test)
	if err != nil {
		t.Fatal(err)
	}
	ids := l.Tokenizer.Encode(JoinRows(text.Body))
	base := *l.Model
	m := base
	m.NormF = append([]float32(nil), base.NormF...)
	for i := range m.NormF {
		m.NormF[i] *= 1.01 // a slightly different model: KL > 0
	}
	const seq, windows = 64, 5
	want, err := Perplexity(&m, ids, seq, windows, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := PerplexityBatches(context.Background(), func(ws [][]int) ([][]float64, error) {
		out := make([][]float64, len(ws))
		for i, w := range ws {
			var err error
			if out[i], err = m.NLL(w); err != nil {
				return nil, err
			}
		}
		return out, nil
	}, 2, ids, seq, windows, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.PPL != want.PPL || got.Windows != want.Windows || got.Tokens != want.Tokens {
		t.Errorf("PerplexityBatches: ppl %v over %d windows, Perplexity %v over %d", got.PPL, got.Windows, want.PPL, want.Windows)
	}
	wantKL, err := Compare(&m, &base, ids, seq, windows, nil)
	if err != nil {
		t.Fatal(err)
	}
	gotKL, err := CompareBatches(context.Background(), func(ws [][]int) ([][]Position, error) {
		out := make([][]Position, len(ws))
		for i, w := range ws {
			wc, err := compareWindow(&m, &base, w)
			if err != nil {
				return nil, err
			}
			for t, r := range wc.rows {
				out[i] = append(out[i], Position{KL: r.KL, Top: r.Top, TopBase: r.TopBase, NLL: wc.nll[t], NLLBase: wc.nllBase[t]})
			}
		}
		return out, nil
	}, 2, ids, seq, windows, nil)
	if err != nil {
		t.Fatal(err)
	}
	if wantKL.MeanKL <= 0 {
		t.Fatalf("mean KL %v: the perturbed model should differ from the baseline", wantKL.MeanKL)
	}
	gotKL.Seconds, gotKL.TokensPerS, wantKL.Seconds, wantKL.TokensPerS = 0, 0, 0, 0
	if gotKL.KLStats != wantKL.KLStats || gotKL.PPL != wantKL.PPL || gotKL.PPLBase != wantKL.PPLBase {
		t.Errorf("CompareBatches %+v (ppl %v / %v), Compare %+v (ppl %v / %v)", gotKL.KLStats, gotKL.PPL, gotKL.PPLBase, wantKL.KLStats, wantKL.PPL, wantKL.PPLBase)
	}
}

// TestBatchesRefuseShortAnswers: an evaluator that returns fewer windows,
// or fewer positions in a window, than it was given is an error, not a
// perplexity over zeros.
func TestBatchesRefuseShortAnswers(t *testing.T) {
	ids := make([]int, 40)
	short := func(ws [][]int) ([][]float64, error) { return make([][]float64, len(ws)-1), nil }
	if _, err := PerplexityBatches(context.Background(), short, 2, ids, 10, 4, nil); err == nil || !strings.Contains(err.Error(), "returned 1 windows for 2") {
		t.Errorf("fewer windows: %v", err)
	}
	shortRows := func(ws [][]int) ([][]Position, error) {
		out := make([][]Position, len(ws))
		for i := range out {
			out[i] = make([]Position, 8)
		}
		return out, nil
	}
	if _, err := CompareBatches(context.Background(), shortRows, 2, ids, 10, 4, nil); err == nil || !strings.Contains(err.Error(), "returned 8 positions for window 0, want 9") {
		t.Errorf("fewer positions: %v", err)
	}
}
