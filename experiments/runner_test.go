package experiments_test

import (
	"context"
	"errors"
	"github.com/hyquant/hyquant/internal/dirlock"
	"github.com/hyquant/hyquant/internal/pngcheck"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/experiments"
	"github.com/hyquant/hyquant/reports"
)

func tinyConfig(t *testing.T, out string) *experiments.Config {
	t.Helper()
	src := `name: tiny
model: ../models/nemotron-h-mini
output: ` + out + `
eval: {seq_len: 64, max_windows: 2}
calibration: {segments: 2, length: 64, seed: 1}
runs:
  - name: gptq-w4
    plan: {categories: {mlp_up: {method: gptq, bits: 4, granularity: "group:128"}, mlp_down: {method: gptq, bits: 4, granularity: "group:128"}}}
sweep: {methods: [rtn], bits: [4]}
sensitivity: {categories: [attn_o], bits: [8]}
`
	path := filepath.Join(t.TempDir(), "tiny.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := experiments.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cancelOn cancels a context when a log line contains a marker.
type cancelOn struct {
	marker string
	cancel context.CancelFunc
}

func (c cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

func TestExecuteResumesAndSurvivesInterruption(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the mini model")
	}
	out := filepath.Join(t.TempDir(), "results")
	c := tinyConfig(t, out)

	// Interrupted at the start of the second run: the baseline and the
	// first run are saved, nothing partial is left.
	ctx, cancel := context.WithCancel(context.Background())
	_, err := experiments.Execute(ctx, c, experiments.Options{Quiet: true, Log: cancelOn{"[2/3]", cancel}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run returned %v", err)
	}
	res, err := experiments.ReadResults(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 2 || res.Runs[0].Name != "baseline" || res.Runs[1].Name != "gptq-w4" {
		t.Fatalf("after interruption results hold %v", runNames(res))
	}
	assertNoTempFiles(t, out)

	// Resume: the two finished runs are skipped (same numbers), the rest run.
	res2, err := experiments.Execute(context.Background(), c, experiments.Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res2.Runs) != 4 {
		t.Fatalf("resumed results hold %v", runNames(res2))
	}
	for i := 0; i < 2; i++ {
		if res2.Runs[i].WallSeconds != res.Runs[i].WallSeconds || res2.Runs[i].PPL != res.Runs[i].PPL {
			t.Errorf("%s was recomputed on resume", res2.Runs[i].Name)
		}
	}
	base := res2.Runs[0]
	for _, r := range res2.Runs[1:] {
		if r.Hash == "" || r.TotalBytes >= base.TotalBytes || r.DeltaPPL != r.PPL-base.PPL {
			t.Errorf("run %s: hash %q, bytes %d (baseline %d), delta %v", r.Name, r.Hash, r.TotalBytes, base.TotalBytes, r.DeltaPPL)
		}
	}
	if len(res2.Runs[1].LayerErrors) != 18 { // 9 MLP layers × up, down
		t.Errorf("gptq-w4 has %d layer errors, want 18", len(res2.Runs[1].LayerErrors))
	}
	if len(res2.WeightStats) == 0 || len(res2.Footprints8B) < 2 {
		t.Errorf("weight stats %d, 8B footprints %d", len(res2.WeightStats), len(res2.Footprints8B))
	}
	if _, err := os.Stat(filepath.Join(out, "plans", "gptq-w4.yaml")); err != nil {
		t.Errorf("run plan not recorded: %v", err)
	}

	// An interrupted --force (or resume) loses nothing: the records it has
	// not redone yet stay in results.json.
	ctx, cancel = context.WithCancel(context.Background())
	if _, err := experiments.Execute(ctx, c, experiments.Options{Quiet: true, Force: true, Log: cancelOn{"[1/3]", cancel}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted forced run returned %v", err)
	}
	kept, err := experiments.ReadResults(out)
	if err != nil || len(kept.Runs) != 4 {
		t.Fatalf("after an interrupted forced run results hold %v (%v)", runNames(kept), err)
	}

	// Same config, same numbers: a forced recomputation reproduces them.
	res3, err := experiments.Execute(context.Background(), c, experiments.Options{Quiet: true, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res3.Runs {
		if r.PPL != res2.Runs[i].PPL || r.TotalBytes != res2.Runs[i].TotalBytes {
			t.Errorf("%s: forced rerun gave ppl %v bytes %d, first run %v %d", r.Name, r.PPL, r.TotalBytes, res2.Runs[i].PPL, res2.Runs[i].TotalBytes)
		}
	}

	// The report: every figure written and non-trivial.
	w, err := reports.Write(out, res3)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Figures) != 5 {
		t.Fatalf("%d figures written: %+v (skipped %v)", len(w.Figures), w.Figures, w.Skipped)
	}
	for _, f := range w.Figures {
		checkPNG(t, f.Path)
	}
	assertNoTempFiles(t, out)
}

func checkPNG(t *testing.T, path string) {
	t.Helper()
	img, err := pngcheck.Read(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, s := img.Bounds(), pngcheck.Measure(img)
	if b.Dx() < 600 || b.Dy() < 400 || s.Distinct < 32 || s.DominantFrac > 0.975 || s.Inked < 0.015 {
		t.Errorf("%s: %dx%d, %+v looks empty", path, b.Dx(), b.Dy(), s)
	}
}

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(fi.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func runNames(r *experiments.Results) []string {
	var n []string
	for _, x := range r.Runs {
		n = append(n, x.Name)
	}
	return n
}

// TestExecuteRefusesALockedOutput: while another process holds the output
// directory, a run is refused at once, naming the holder, and writes nothing.
func TestExecuteRefusesALockedOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the mini model")
	}
	out := filepath.Join(t.TempDir(), "results")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	held, err := dirlock.Acquire(out, "hyquant run other.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Release()
	_, err = experiments.Execute(context.Background(), tinyConfig(t, out), experiments.Options{Quiet: true})
	if err == nil || !strings.Contains(err.Error(), "in use by another hyquant process") || !strings.Contains(err.Error(), "other.yaml") {
		t.Fatalf("a run on a locked directory returned %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, experiments.ResultsFile)); !os.IsNotExist(err) {
		t.Errorf("the refused run wrote %s", experiments.ResultsFile)
	}
}
