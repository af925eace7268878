package experiments

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/hyquant/hyquant/eval"
)

// A non-finite perplexity or KL is an error naming the field (the runner
// adds the run), and results.json is never written with one.
func TestNonFiniteResultsRefused(t *testing.T) {
	run := RunResult{Name: "q4", PPL: 12, MeanNLL: 2.5, KLStats: &eval.KLStats{MeanKL: math.NaN()}}
	if err := checkFiniteRun(&run); err == nil || err.Error() != "mean_kl is NaN, not a finite number: the run has no valid result and nothing of it is recorded" {
		t.Errorf("KL: %v", err)
	}
	inf := RunResult{Name: "w2", PPL: math.Inf(1), MeanNLL: 800}
	if err := checkFiniteRun(&inf); err == nil || err.Error() != "ppl is +Inf, not a finite number: the run has no valid result and nothing of it is recorded" {
		t.Errorf("ppl: %v", err)
	}
	ok := RunResult{Name: "baseline", PPL: 10, MeanNLL: 2.3, KLStats: &eval.KLStats{Top1Agreement: 1}}
	if err := checkFiniteRun(&ok); err != nil {
		t.Errorf("finite run refused: %v", err)
	}

	dir := t.TempDir()
	le := RunResult{Name: "gptq-w4", PPL: 11, LayerErrors: []LayerError{{Name: "a", RelError: 0.1}, {Name: "b", RelError: math.NaN()}}}
	for _, c := range []struct {
		r    *Results
		want string
	}{
		{&Results{Runs: []RunResult{ok, run}}, "run q4: mean_kl is NaN; results.json not written"},
		{&Results{Runs: []RunResult{ok, le}}, "run gptq-w4: layer_errors[1].rel_error is NaN; results.json not written"},
		{&Results{Runs: []RunResult{ok}, WeightStats: []CategoryWeightStats{{Category: "mlp_up", Kurtosis: []float64{1, math.Inf(-1)}}}}, "weight_stats[0].kurtosis[1] is -Inf; results.json not written"},
	} {
		err := writeResults(dir, c.r)
		if err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %q", err, c.want)
		}
		if _, err := os.Stat(filepath.Join(dir, ResultsFile)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("results.json written: %v", err)
		}
	}
	if err := writeResults(dir, &Results{Runs: []RunResult{ok}}); err != nil {
		t.Fatal(err)
	}
}
