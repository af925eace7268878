package experiments_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hyquant/hyquant/experiments"
)

// Without eval.kl the evaluation config marshals as it did before the
// option existed, so the run hashes (resume keys) of earlier experiments
// are unchanged; with it, the key is there and every hash differs.
func TestEvalConfigIdentity(t *testing.T) {
	b, _ := json.Marshal(experiments.EvalConfig{Text: "wikitext2-test", SeqLen: 1024, MaxWindows: 24})
	if string(b) != `{"Text":"wikitext2-test","SeqLen":1024,"MaxWindows":24}` {
		t.Errorf("eval config without kl marshals as %s", b)
	}
	b, _ = json.Marshal(experiments.EvalConfig{Text: "wikitext2-test", SeqLen: 1024, KL: true})
	if string(b) != `{"Text":"wikitext2-test","SeqLen":1024,"MaxWindows":0,"KL":true}` {
		t.Errorf("eval config with kl marshals as %s", b)
	}
}

func klConfig(t *testing.T, out string, kl bool) *experiments.Config {
	t.Helper()
	k := "false"
	if kl {
		k = "true"
	}
	src := `name: kl
model: ../models/nemotron-h-mini
output: ` + out + `
eval: {seq_len: 64, max_windows: 2, kl: ` + k + `}
calibration: {segments: 2, length: 64, seed: 1}
layer_errors: false
sweep: {methods: [rtn], bits: [4]}
`
	path := filepath.Join(t.TempDir(), "kl.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := experiments.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// eval.kl: an experiment run without it is not reused when it is turned
// on; each run then carries KL statistics against the float model, the
// same perplexity, and the baseline KL 0 and agreement 1.
func TestExecuteWithKL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the mini model")
	}
	out := filepath.Join(t.TempDir(), "results")
	plain, err := experiments.Execute(context.Background(), klConfig(t, out, false), experiments.Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range plain.Runs {
		if r.KLStats != nil {
			t.Errorf("%s has KL statistics without eval.kl: %+v", r.Name, *r.KLStats)
		}
	}
	if _, err := experiments.Execute(context.Background(), klConfig(t, out, true), experiments.Options{Quiet: true}); err != nil {
		t.Fatal(err)
	}
	res, err := experiments.ReadResults(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 2 || !res.Eval.KL {
		t.Fatalf("results: %d runs, eval %+v", len(res.Runs), res.Eval)
	}
	base, q := res.Runs[0], res.Runs[1]
	if base.KLStats == nil || base.MeanKL != 0 || base.Top1Agreement != 1 || base.Positions != 126 || base.Hash == plain.Runs[0].Hash {
		t.Errorf("baseline record %+v", base)
	}
	if q.KLStats == nil || !(q.MeanKL > 0 && q.KLP99 > 0 && q.Top1Agreement < 1) || q.Positions != 126 || q.Hash == plain.Runs[1].Hash {
		t.Fatalf("run record %+v", q)
	}
	// The comparison's perplexity is Perplexity's, so the records agree.
	if q.PPL != plain.Runs[1].PPL || base.PPL != plain.Runs[0].PPL || q.DeltaPPL != q.PPL-base.PPL {
		t.Errorf("ppl %v / %v with kl, %v / %v without", base.PPL, q.PPL, plain.Runs[0].PPL, plain.Runs[1].PPL)
	}
}
