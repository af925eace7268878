package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// evalKL is the part of eval --baseline's JSON the tests read.
type evalKL struct {
	PPL           float64 `json:"ppl"`
	PPLBase       float64 `json:"ppl_base"`
	DeltaPPL      float64 `json:"delta_ppl"`
	PPLRatio      float64 `json:"ppl_ratio"`
	Positions     int     `json:"kl_positions"`
	MeanKL        float64 `json:"mean_kl"`
	KLP99         float64 `json:"kl_p99"`
	Top1Agreement float64 `json:"top1_agreement"`
	Baseline      string  `json:"baseline"`
}

func runJSON(t *testing.T, v any, args ...string) string {
	t.Helper()
	out, err := run(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	return out
}

// eval --baseline: the mini against itself (KL 0, agreement 1) and against
// a quantised copy (KL > 0); the model's ppl is plain eval's.
func TestEvalBaseline(t *testing.T) {
	if testing.Short() {
		t.Skip("quantises and runs the mini model")
	}
	window := []string{"--seq-len", "64", "--max-windows", "2"}
	var plain struct {
		PPL float64 `json:"ppl"`
	}
	out := runJSON(t, &plain, append([]string{"eval", "--json"}, window...)...)
	if strings.Contains(out, "kl") || strings.Contains(out, "baseline") {
		t.Errorf("plain eval writes KL fields:\n%s", out)
	}
	var self evalKL
	runJSON(t, &self, append([]string{"eval", "--baseline", "nemotron-h-mini", "--json"}, window...)...)
	if self.Positions != 126 || self.MeanKL != 0 || self.KLP99 != 0 || self.Top1Agreement != 1 || self.DeltaPPL != 0 || self.PPLRatio != 1 ||
		self.PPL != plain.PPL || self.PPLBase != plain.PPL || self.Baseline != "nemotron-h-mini (embedded)" {
		t.Errorf("the mini against itself: %+v (plain ppl %v)", self, plain.PPL)
	}

	dir := filepath.Join(t.TempDir(), "q")
	if _, err := run(t, "quantize", "--plan", "seed", "--out", dir, "--json"); err != nil {
		t.Fatal(err)
	}
	var q evalKL
	runJSON(t, &q, append([]string{"eval", "--model", dir, "--baseline", "nemotron-h-mini", "--json"}, window...)...)
	var qPlain struct {
		PPL float64 `json:"ppl"`
	}
	runJSON(t, &qPlain, append([]string{"eval", "--model", dir, "--json"}, window...)...)
	if !(q.MeanKL > 0 && q.KLP99 > q.MeanKL && q.Top1Agreement < 1) || q.PPL != qPlain.PPL || q.PPLBase != plain.PPL || q.DeltaPPL != q.PPL-q.PPLBase {
		t.Errorf("the quantised mini: %+v (plain ppl %v, baseline %v)", q, qPlain.PPL, plain.PPL)
	}

	text, err := run(t, append([]string{"eval", "--model", dir, "--baseline", "nemotron-h-mini"}, window...)...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Baseline:     nemotron-h-mini (embedded) (float weights)", "126 positions compared", "Mean KL:      0.", "KL quantiles: median", "Top-1 agree:  "} {
		if !strings.Contains(text, want) {
			t.Errorf("eval --baseline output lacks %q:\n%s", want, text)
		}
	}
}
