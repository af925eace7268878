package reports

import (
	"encoding/json"
	"flag"
	"github.com/hyquant/hyquant/internal/pngcheck"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gonum.org/v1/plot"

	"github.com/hyquant/hyquant/experiments"
	"github.com/hyquant/hyquant/runtime"
)

// -reports.out keeps the fixture's report in a directory to look at.
var outDir = flag.String("reports.out", "", "also write the fixture report into this directory")

// fixture loads testdata/results.json, written by testdata/gen_fixture.go:
// exact byte counts from the real plans, synthetic perplexities and errors.
func fixture(t *testing.T) *experiments.Results {
	t.Helper()
	data, err := os.ReadFile("testdata/results.json")
	if err != nil {
		t.Fatal(err)
	}
	var r experiments.Results
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	img, err := pngcheck.Read(path)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	return img
}

// countNear counts pixels within tol (per channel) of a colour.
func countNear(img image.Image, want color.Color, tol int) int {
	wr, wg, wb, _ := want.RGBA()
	b := img.Bounds()
	n := 0
	abs := func(v int) int {
		if v < 0 {
			return -v
		}
		return v
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if abs(int(r>>8)-int(wr>>8)) <= tol && abs(int(g>>8)-int(wg>>8)) <= tol && abs(int(bl>>8)-int(wb>>8)) <= tol {
				n++
			}
		}
	}
	return n
}

// checkPNG decodes a figure and checks its size and that it is a real plot:
// many colours, not one colour nearly everywhere, a fair amount of ink, and
// the palette colours the figure must show.
func checkPNG(t *testing.T, path string, w, h int, mustShow map[string]color.Color) {
	t.Helper()
	img := readPNG(t, path)
	name := filepath.Base(path)
	if got := img.Bounds().Size(); got.X != w || got.Y != h {
		t.Errorf("%s: %d×%d px, want %d×%d", name, got.X, got.Y, w, h)
	}
	if img.Bounds().Dx() < 900 || img.Bounds().Dy() < 600 {
		t.Errorf("%s: smaller than 900×600", name)
	}
	s := pngcheck.Measure(img)
	t.Logf("%s: %d colours, dominant %.1f%%, inked %.1f%%", name, s.Distinct, 100*s.DominantFrac, 100*s.Inked)
	if s.Distinct < 64 {
		t.Errorf("%s: only %d distinct colours", name, s.Distinct)
	}
	if s.DominantFrac > 0.975 {
		t.Errorf("%s: %.1f%% of pixels are one colour", name, 100*s.DominantFrac)
	}
	if s.Inked < 0.015 {
		t.Errorf("%s: only %.1f%% of pixels carry ink", name, 100*s.Inked)
	}
	for what, c := range mustShow {
		if n := countNear(img, c, 6); n < 40 {
			t.Errorf("%s: %s (%v) appears on %d pixels, want a visible amount", name, what, c, n)
		}
	}
}

func TestWriteFixture(t *testing.T) {
	r := fixture(t)
	dir := t.TempDir()
	w, err := Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Skipped) != 0 {
		t.Errorf("skipped figures on the full fixture: %v", w.Skipped)
	}
	if len(w.Figures) != 5 {
		t.Fatalf("%d figures written, want 5", len(w.Figures))
	}
	for i, f := range w.Figures {
		if f.Number != i+1 || filepath.Base(f.Path) != FigureFiles[i] {
			t.Errorf("figure %d: number %d, file %s; want %s", i+1, f.Number, filepath.Base(f.Path), FigureFiles[i])
		}
		if f.Caption == "" || f.Title == "" {
			t.Errorf("figure %d has no title or caption", i+1)
		}
	}
	if w.Report != filepath.Join(dir, ReportFile) {
		t.Errorf("report at %s", w.Report)
	}
	W, H, tall := pixels(figWidth), pixels(figHeight), pixels(tallHeight)
	if W != 1200 || H != 800 || tall != 1100 {
		t.Fatalf("figure sizes %d×%d / %d, want 1200×800 / 1100", W, H, tall)
	}
	// Figure 1 has the zoom panel (ppl spans 157 to 1844), figures 3 and 5
	// have stacked panels.
	checkPNG(t, filepath.Join(dir, PPLMemoryFile), W, tall, map[string]color.Color{
		"rtn": methodColor("rtn"), "gptq": methodColor("gptq"), "mambaquant": methodColor("mambaquant"), "mixed plans": methodColor(classMixed),
	})
	checkPNG(t, filepath.Join(dir, SensitivityFile), W, H, map[string]color.Color{"4-bit bars": bitsColor(4), "8-bit bars": bitsColor(8)})
	checkPNG(t, filepath.Join(dir, LayerErrorFile), W, tall, map[string]color.Color{
		"Mamba2": kindStyle(kindMamba).Color, "MLP": kindStyle(kindMLP).Color, "attention": kindStyle(kindAttn).Color, "lm_head": kindStyle(kindHead).Color,
	})
	checkPNG(t, filepath.Join(dir, WeightOutliersFile), W, H, map[string]color.Color{"SSM boxes": rollupColor("SSM"), "MLP boxes": rollupColor("MLP")})
	checkPNG(t, filepath.Join(dir, MemoryBreakdownFile), W, tall, map[string]color.Color{
		"ssm_in_proj": categoryColor(runtime.SSMInProj), "mlp_up": categoryColor(runtime.MLPUp), "embedding": categoryColor(runtime.Embedding), "58% line": claimRed,
	})

	// No temporary files left behind.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}

	md := readReport(t, w)
	// Results table: header and a row per run with its exact bytes.
	mustContain(t, md, "| run | kind | precision | bytes | MB | reduction | ppl | Δ ppl | wall s |")
	for _, run := range r.Runs {
		mustContain(t, md, "| `"+run.Name+"` | "+run.Kind+" |")
	}
	mustContain(t, md, "| `seed-emb8` | plan | rtn w4 g128: ssm_in_proj, ssm_out_proj; channel8 w8 per-channel: ssm_conv1d, ssm_norm, MLP, attention, embedding, lm_head; rest kept | 13,015,266 | 13.015 | 57.22% | 161.2400 | +3.7444 | 50.4 |")
	mustContain(t, md, "| `baseline` | baseline | all kept as stored (bf16) | 30,427,056 | 30.427 | 0.00% | 157.4956 |")
	// Every figure embedded, with its caption.
	for i, f := range FigureFiles {
		mustContain(t, md, "]("+f+")")
		mustContain(t, md, "*Figure "+string(rune('1'+i))+" (`"+f+"`).*")
	}
	// Sensitivity table, with the missing combination named.
	mustContain(t, md, "| category | rollup | Δ ppl 4-bit (rtn w4 g128) | Δ ppl 8-bit (rtn w8 per-channel) |")
	mustContain(t, md, "| `ssm_in_proj` | SSM | +6.840 (`sens-ssm_in_proj-w4`) | +0.092 (`sens-ssm_in_proj-w8`) |")
	mustContain(t, md, "| `embedding` | other | not run | +0.021 (`sens-embedding-w8`) |")
	mustContain(t, md, "| `mlp_up` | MLP | +1.930 (`sens-mlp_up-w4`) | -0.004 (`sens-mlp_up-w8`) |")
	// The verdict, units stated, exact bytes.
	mustContain(t, md, "**GB** = 10^9 bytes, **GiB** = 2^30 bytes")
	mustContain(t, md, "bytes / 2^20 / 1000")
	mustContain(t, md, "the 8B bf16 size, 16,201,705,472 bytes, in the claim's unit (15.451 claim-GB). In real units it is 16.202 GB = 15.089 GiB")
	mustContain(t, md, "- `seed-emb8` **reaches 58%** and is the quoted ~6.5 in the claim's unit: 6,829,828,144 bytes = 6.830 GB = 6.361 GiB = 6.513 claim-GB; reduction 57.85%.")
	mustContain(t, md, "- `seed` **does not reach 58%**: 7,903,045,680 bytes = 7.903 GB = 7.360 GiB = 7.537 claim-GB; reduction 51.22%.")
	mustContain(t, md, "So the claim holds only for `seed-emb8`, and only in its mixed unit")
	mustContain(t, md, "| `seed` | 7,903,045,680 | 7.903 | 7.360 | 7.537 | 51.22% | no |")
	mustContain(t, md, "| `seed-emb8` | 6,829,828,144 | 6.830 | 6.361 | 6.513 | 57.85% | yes |")
	// Reproduce commands.
	rd := filepath.ToSlash(dir)
	mustContain(t, md, "go run ./cmd/hyquant run experiments/mini-sweep.yaml")
	mustContain(t, md, "go run ./cmd/hyquant eval --model nemotron-h-mini --seq-len 1024 --max-windows 0\n")
	for _, run := range r.Runs {
		if run.Kind == "baseline" {
			continue
		}
		mustContain(t, md, "go run ./cmd/hyquant quantize --plan "+rd+"/plans/"+run.Name+".yaml --out "+rd+"/models/"+run.Name+"\n")
		mustContain(t, md, "go run ./cmd/hyquant eval --model "+rd+"/models/"+run.Name+" --seq-len 1024 --max-windows 0\n")
	}
	for _, fp := range r.Footprints8B {
		mustContain(t, md, "go run ./cmd/hyquant plan nemotron-h-8b-base-8k --plan "+rd+"/plans/"+fp.Plan+".yaml")
	}
	mustNotContain(t, md, "Not drawn")
	mustNotContain(t, md, "NaN")

	if *outDir != "" {
		if _, err := Write(*outDir, r); err != nil {
			t.Fatal(err)
		}
	}
}

func readReport(t *testing.T, w Written) string {
	t.Helper()
	data, err := os.ReadFile(w.Report)
	if err != nil {
		t.Fatal(err)
	}
	md := string(data)
	for _, bad := range []string{"TODO", "<run>", "%!", "{{"} {
		if strings.Contains(md, bad) {
			t.Errorf("report.md contains %q", bad)
		}
	}
	return md
}

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("report.md lacks %q", sub)
	}
}

func mustNotContain(t *testing.T, s, sub string) {
	t.Helper()
	if strings.Contains(s, sub) {
		t.Errorf("report.md contains %q", sub)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func TestNoSensitivityRuns(t *testing.T) {
	dir := t.TempDir()
	// A full report first, so the stale sensitivity.png must go.
	if _, err := Write(dir, fixture(t)); err != nil {
		t.Fatal(err)
	}
	r := fixture(t)
	var runs []experiments.RunResult
	for _, run := range r.Runs {
		if run.Kind != "sensitivity" {
			runs = append(runs, run)
		}
	}
	r.Runs = runs
	w, err := Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(dir, SensitivityFile)) {
		t.Error("sensitivity.png still there without sensitivity runs")
	}
	if len(w.Figures) != 4 || len(w.Skipped) != 1 || !strings.Contains(w.Skipped[0], "figure 2") {
		t.Errorf("figures %d, skipped %v", len(w.Figures), w.Skipped)
	}
	md := readReport(t, w)
	mustNotContain(t, md, "](sensitivity.png)")
	mustContain(t, md, "### Figure 2: Per-category sensitivity\n\n*Not drawn: no sensitivity runs")
	mustContain(t, md, "This experiment has no sensitivity runs")
	mustNotContain(t, md, "Δ ppl 4-bit")
	// Without sensitivity runs figure 1 has no grey rings to explain.
	for _, f := range w.Figures {
		if f.Number == 1 && strings.Contains(f.Caption, "Grey rings") {
			t.Error("figure 1 caption mentions sensitivity runs that do not exist")
		}
	}
	checkPNG(t, filepath.Join(dir, PPLMemoryFile), 1200, 1100, nil)
}

func TestNoLayerErrors(t *testing.T) {
	r := fixture(t)
	for i := range r.Runs {
		r.Runs[i].LayerErrors = nil
	}
	dir := t.TempDir()
	w, err := Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if exists(filepath.Join(dir, LayerErrorFile)) {
		t.Error("layer_error.png written without layer errors")
	}
	md := readReport(t, w)
	mustContain(t, md, "### Figure 3: Per-layer quantisation error\n\n*Not drawn: no whole-model run recorded per-layer errors.*")
	mustNotContain(t, md, "## Per-layer error by layer kind")
	mustContain(t, md, "](sensitivity.png)")
}

func TestMissing8BFootprints(t *testing.T) {
	r := fixture(t)
	r.Footprints8B = nil
	dir := t.TempDir()
	w, err := Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	// The mini panel alone: a single-panel figure.
	checkPNG(t, filepath.Join(dir, MemoryBreakdownFile), 1200, 800, map[string]color.Color{"ssm_in_proj": categoryColor(runtime.SSMInProj)})
	if n := countNear(readPNG(t, filepath.Join(dir, MemoryBreakdownFile)), claimRed, 6); n > 0 {
		t.Errorf("the 58%% line is drawn (%d pixels) without 8B footprints", n)
	}
	md := readReport(t, w)
	mustContain(t, md, "No 8B footprints in results.json, so the claim cannot be checked here.")
	mustNotContain(t, md, "6,829,828,144")
	mustNotContain(t, md, "**Verdict.**")
	mustNotContain(t, md, "go run ./cmd/hyquant plan nemotron-h-8b-base-8k --plan "+filepath.ToSlash(dir))
}

func TestSingleRun(t *testing.T) {
	r := fixture(t)
	r.Runs = r.Runs[:1] // the baseline
	r.WeightStats = nil
	r.Footprints8B = r.Footprints8B[len(r.Footprints8B)-2:] // seed and seed-emb8
	dir := t.TempDir()
	w, err := Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range w.Figures {
		files = append(files, filepath.Base(f.Path))
	}
	if strings.Join(files, ",") != PPLMemoryFile+","+MemoryBreakdownFile {
		t.Errorf("figures %v, want ppl_vs_memory and memory_breakdown", files)
	}
	if len(w.Skipped) != 3 {
		t.Errorf("skipped %v, want figures 2, 3, 4", w.Skipped)
	}
	// One point: no zoom panel, no frontier line.
	checkPNG(t, filepath.Join(dir, PPLMemoryFile), 1200, 800, nil)
	checkPNG(t, filepath.Join(dir, MemoryBreakdownFile), 1200, 1100, map[string]color.Color{"58% line": claimRed})
	md := readReport(t, w)
	mustContain(t, md, "1 in all: 1 baseline, 0 whole-model plans, 0 single-category sensitivity runs")
	mustContain(t, md, "go run ./cmd/hyquant eval --model nemotron-h-mini --seq-len 1024 --max-windows 0")
	mustNotContain(t, md, "hyquant quantize")
	mustNotContain(t, md, "Pareto frontier (no other run")
	mustContain(t, md, "- `seed-emb8` **reaches 58%**")
	// The 8B footprints name shipped plans when no run carries them.
	mustContain(t, md, "go run ./cmd/hyquant plan nemotron-h-8b-base-8k --plan seed   # 7,903,045,680 bytes")
	mustContain(t, md, "go run ./cmd/hyquant plan nemotron-h-8b-base-8k --plan seed-emb8   # 6,829,828,144 bytes")
}

func TestDegenerateValues(t *testing.T) {
	r := fixture(t)
	// No baseline, a diverged run, a zero layer error, an empty weight stat.
	r.Runs = r.Runs[1:]
	r.Runs[0].PPL = math.Inf(1)
	r.Runs[1].PPL = math.NaN()
	r.Runs[4].LayerErrors[0].RelError = 0
	r.WeightStats = append(r.WeightStats, experiments.CategoryWeightStats{Category: "final_norm"})
	dir := t.TempDir()
	w, err := Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Figures) != 5 {
		t.Errorf("%d figures, want 5 (skipped %v)", len(w.Figures), w.Skipped)
	}
	md := readReport(t, w)
	mustContain(t, md, "No baseline run in results.json")
	for _, f := range w.Figures {
		if f.Number == 1 && !strings.Contains(f.Caption, "Not drawn, perplexity not finite: rtn-w8 (ppl +Inf), gptq-w8 (ppl NaN)") {
			t.Errorf("figure 1 caption does not name the runs it could not draw: %s", f.Caption)
		}
		if f.Number == 3 && !strings.Contains(f.Caption, "1 zero or non-finite errors are not drawn") {
			t.Errorf("figure 3 caption does not count the dropped error: %s", f.Caption)
		}
	}
}

func TestEmptyAndNil(t *testing.T) {
	if _, err := Write(t.TempDir(), nil); err == nil {
		t.Error("nil results: no error")
	}
	w, err := Write(filepath.Join(t.TempDir(), "new", "dir"), &experiments.Results{})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Figures) != 0 || len(w.Skipped) != 5 {
		t.Errorf("empty results: figures %d, skipped %v", len(w.Figures), w.Skipped)
	}
	md := readReport(t, w)
	mustContain(t, md, "No runs in results.json.")
}

func TestPareto(t *testing.T) {
	mk := func(name string, bytes int64, ppl float64) *experiments.RunResult {
		return &experiments.RunResult{Name: name, TotalBytes: bytes, PPL: ppl}
	}
	runs := []*experiments.RunResult{mk("base", 100, 10), mk("a", 50, 11), mk("b", 50, 12), mk("c", 60, 13), mk("d", 20, 30), mk("e", 80, 10)}
	var got []string
	for _, r := range pareto(runs) {
		got = append(got, r.Name)
	}
	// b ties a on memory with worse ppl, c is beaten by a, base by e.
	if strings.Join(got, ",") != "d,a,e" {
		t.Errorf("frontier %v, want d,a,e", got)
	}
}

func TestLayerErrorSelection(t *testing.T) {
	d := prepare(fixture(t))
	runs, bits := layerErrorRuns(d)
	var names []string
	for _, r := range runs {
		names = append(names, r.Name)
	}
	// 8, 4 and 3 bits each have three methods: the tie goes to 4 bits.
	if bits != 4 || strings.Join(names, ",") != "rtn-w4,gptq-w4,mambaquant-w4" {
		t.Errorf("selected %v at %d bits", names, bits)
	}
}

func TestPrecisionSummary(t *testing.T) {
	d := prepare(fixture(t))
	got := map[string]string{}
	for _, r := range d.all {
		got[r.Name] = precisionSummary(r)
	}
	want := map[string]string{
		"baseline":            "all kept as stored (bf16)",
		"seed":                "rtn w4 g128: ssm_in_proj, ssm_out_proj; channel8 w8 per-channel: ssm_conv1d, ssm_norm, MLP, attention; keep bf16: embedding, lm_head; rest kept",
		"mambaquant-w3":       "mambaquant w3 g128 hadamard: ssm_in_proj, ssm_out_proj, MLP, attention, lm_head; keep bf16: embedding; rest kept",
		"sens-attn_k-w8":      "rtn w8 per-channel: attn_k; rest kept",
		"sens-ssm_in_proj-w4": "rtn w4 g128: ssm_in_proj; rest kept",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: %q, want %q", name, got[name], w)
		}
	}
}

func TestTicks(t *testing.T) {
	labels := func(ts []plot.Tick) string {
		var out []string
		for _, t := range ts {
			if t.Label != "" {
				out = append(out, t.Label)
			}
		}
		return strings.Join(out, " ")
	}
	if got := labels(logTicks{}.Ticks(150, 2000)); got != "200 500 1000 2000" {
		t.Errorf("log ticks 150..2000: %q", got)
	}
	if got := labels(logTicks{}.Ticks(0.004, 0.12)); got != "0.005 0.01 0.02 0.05 0.1" {
		t.Errorf("log ticks 0.004..0.12: %q", got)
	}
	if got := labels(logTicks{}.Ticks(3e-5, 0.2)); got != "0.0001 0.001 0.01 0.1" {
		t.Errorf("log ticks over 3.8 decades: %q", got)
	}
	s := symLog{Thresh: 0.01}
	for _, v := range []float64{-3, -0.01, 0, 0.004, 7.5} {
		if back := s.Inv(s.F(v)); math.Abs(back-v) > 1e-12 {
			t.Errorf("symlog round trip %v -> %v", v, back)
		}
	}
	// Over 2.5 decades only the powers of ten are labelled; within, the 2× and 5× steps too.
	if got := labels(s.Ticks(s.F(-0.02), s.F(5))); got != "0 0.01 -0.01 0.1 1" {
		t.Errorf("symlog ticks -0.02..5: %q", got)
	}
	if got := labels(s.Ticks(s.F(-0.02), s.F(2))); got != "0 0.01 -0.01 0.02 -0.02 0.05 0.1 0.2 0.5 1 2" {
		t.Errorf("symlog ticks -0.02..2: %q", got)
	}
	if got := labels(niceTicks{}.Ticks(0, 18.9)); got != "0 5 10 15" {
		t.Errorf("nice ticks 0..18.9: %q", got)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"a/b-c_d.yaml": "a/b-c_d.yaml", "my dir/x": "'my dir/x'", "it's": `'it'\''s'`, "": "''"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
