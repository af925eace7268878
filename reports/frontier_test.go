package reports

import (
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/experiments"
)

// frontierResults is a small synthetic experiment: a baseline, three
// llama.cpp recipes as llama-quantize makes them and three hyquant
// pipelines near the same sizes, all with KL statistics. llama marks
// whether the llama.cpp runs say so.
func frontierResults(llama bool) *experiments.Results {
	const basePPL, baseBytes = 157.4956, 30_427_056
	run := func(name string, bytes int64, ppl, kl float64, isLlama bool) experiments.RunResult {
		return experiments.RunResult{
			Name: name, Kind: "plan",
			Config:        experiments.RunConfig{Plan: name, Method: "gptq", Bits: 4, LlamaCpp: isLlama && llama},
			BaselineBytes: baseBytes, TotalBytes: bytes, Reduction: 1 - float64(bytes)/baseBytes,
			PPL: ppl, DeltaPPL: ppl - basePPL, WallSeconds: 12,
			KLStats: &eval.KLStats{Positions: 10230, MeanKL: kl, KLP99: 10 * kl, Top1Agreement: 1 - 4*kl},
		}
	}
	return &experiments.Results{
		Experiment: "frontier-test", Model: "nemotron-h-mini",
		Eval: experiments.EvalInfo{Text: "wikitext-2 test", SeqLen: 1024, Windows: 10, Tokens: 10240, KL: true},
		Runs: []experiments.RunResult{
			{Name: "baseline", Kind: "baseline", BaselineBytes: baseBytes, TotalBytes: baseBytes, PPL: basePPL,
				KLStats: &eval.KLStats{Positions: 10230, Top1Agreement: 1}},
			run("Q4_K_M", 11_200_000, 163.0, 0.030, true),
			run("Q5_K_M", 12_900_000, 159.8, 0.012, true),
			run("Q8_0", 16_600_000, 157.7, 0.0011, true),
			run("hq-q4-gptq", 11_000_000, 161.2, 0.021, false),
			run("hq-q4-rot", 11_400_000, 162.5, 0.019, false),
			run("hq-q5-gptq", 12_800_000, 158.9, 0.008, false),
		},
	}
}

func TestFrontierFigure(t *testing.T) {
	dir := t.TempDir()
	w, err := Write(dir, frontierResults(true))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FrontierFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 20_000 {
		t.Errorf("%s: %d bytes, too small for a drawn figure", FrontierFile, st.Size())
	}
	// Two stacked panels: Δppl and mean KL.
	checkPNG(t, path, 1200, 1100, map[string]color.Color{
		"llama.cpp points": toolStyle(toolLlamaCpp).Color, "hyquant points": toolStyle(toolHyquant).Color,
	})
	var fig *Figure
	for i := range w.Figures {
		if w.Figures[i].Number == 6 {
			fig = &w.Figures[i]
		}
	}
	if fig == nil || filepath.Base(fig.Path) != FrontierFile {
		t.Fatalf("no figure 6 in %+v (skipped %v)", w.Figures, w.Skipped)
	}
	md := readReport(t, w)
	mustContain(t, md, "### Figure 6: llama.cpp vs hyquant at equal bytes\n\n")
	mustContain(t, md, "](frontier.png)")
	mustContain(t, md, "*Figure 6 (`frontier.png`).* ")
	mustContain(t, md, "orange squares are llama.cpp's own files")
	mustContain(t, md, "Δppl frontier llama.cpp `Q4_K_M`, `Q5_K_M`, `Q8_0`, hyquant `hq-q4-gptq`, `hq-q5-gptq`")
	mustContain(t, md, "mean KL frontier llama.cpp `Q4_K_M`, `Q5_K_M`, `Q8_0`, hyquant `hq-q4-gptq`, `hq-q4-rot`, `hq-q5-gptq`")
	mustNotContain(t, md, "### Figure 6: llama.cpp vs hyquant at equal bytes\n\n*Not drawn")
	t.Logf("caption: %s", fig.Caption)
}

// Without KL statistics the figure is the Δppl panel alone.
func TestFrontierWithoutKL(t *testing.T) {
	r := frontierResults(true)
	for i := range r.Runs {
		r.Runs[i].KLStats = nil
	}
	dir := t.TempDir()
	w, err := Write(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, filepath.Join(dir, FrontierFile), 1200, 800, nil)
	md := readReport(t, w)
	mustContain(t, md, "](frontier.png)")
	mustNotContain(t, md, "mean KL frontier")
	mustNotContain(t, md, "KL panel")
}

// Without llama.cpp runs, or without hyquant runs, there is nothing to
// compare: no frontier.png (a stale one is removed) and report.md does not
// mention it.
func TestFrontierAbsent(t *testing.T) {
	dir := t.TempDir()
	if _, err := Write(dir, frontierResults(true)); err != nil {
		t.Fatal(err)
	}
	onlyLlama := frontierResults(true)
	onlyLlama.Runs = onlyLlama.Runs[:4] // baseline and the llama.cpp runs
	for name, r := range map[string]*experiments.Results{"no llama.cpp runs": frontierResults(false), "no hyquant runs": onlyLlama} {
		w, err := Write(dir, r)
		if err != nil {
			t.Fatal(err)
		}
		if exists(filepath.Join(dir, FrontierFile)) {
			t.Errorf("%s: frontier.png still there", name)
		}
		for _, f := range w.Figures {
			if f.Number == 6 {
				t.Errorf("%s: figure 6 written", name)
			}
		}
		for _, s := range w.Skipped {
			if strings.Contains(s, "figure 6") {
				t.Errorf("%s: figure 6 listed as skipped: %s", name, s)
			}
		}
		md := readReport(t, w)
		for _, s := range []string{"frontier.png", "Figure 6", "llama.cpp vs hyquant"} {
			if strings.Contains(md, s) {
				t.Errorf("%s: report.md mentions %q", name, s)
			}
		}
	}
}

// Each tool's frontier per panel, on hand-made points: fewer bytes and a
// lower value win, a tie on bytes goes to the lower value, runs without a
// value (no KL, diverged) are left out.
func TestFrontierSelection(t *testing.T) {
	mk := func(name string, mb float64, delta float64, kl float64, llama bool) experiments.RunResult {
		r := experiments.RunResult{Name: name, Kind: "plan", TotalBytes: int64(mb * 1e6), PPL: 100 + delta, DeltaPPL: delta,
			Config: experiments.RunConfig{LlamaCpp: llama}}
		if kl >= 0 {
			r.KLStats = &eval.KLStats{MeanKL: kl}
		}
		return r
	}
	res := &experiments.Results{Runs: []experiments.RunResult{
		{Name: "base", Kind: "baseline", TotalBytes: 30e6, PPL: 100},
		{Name: "sens", Kind: "sensitivity", TotalBytes: 25e6, PPL: 100.1, DeltaPPL: 0.1, Config: experiments.RunConfig{LlamaCpp: true}},
		mk("A", 10, 3, 0.03, true),
		mk("B", 12, 1, 0.01, true),
		mk("C", 14, 1.5, 0.005, true),
		mk("D", 10, 2, -1, false), // no KL
		mk("E", 11, 2.5, 0.02, false),
		mk("F", 13, 0.5, 0.004, false),
		mk("G", 13, 0.7, 0.002, false),
		mk("H", 9, math.NaN(), 0, false), // diverged, KL 0 cannot go on a log axis
	}}
	res.Runs[len(res.Runs)-1].PPL = math.NaN()
	res.Runs = append(res.Runs, mk("S", 12, 0.4, 0.003, false))
	res.Runs[len(res.Runs)-1].Config.Searched = true
	llama, hyquant, searched := toolRuns(prepare(res))
	if got := names(searched); got != "S" {
		t.Errorf("searched runs %s, want S", got)
	}
	if got := names(llama); got != "A,B,C" {
		t.Errorf("llama.cpp runs %s, want A,B,C", got)
	}
	if got := names(hyquant); got != "D,E,F,G,H" {
		t.Errorf("hyquant runs %s, want D,E,F,G,H", got)
	}
	check := func(what string, s toolSeries, runs, front string) {
		t.Helper()
		if got := names(s.runs); got != runs {
			t.Errorf("%s: drawn %s, want %s", what, got, runs)
		}
		if got := names(s.front); got != front {
			t.Errorf("%s: frontier %s, want %s", what, got, front)
		}
	}
	check("llama.cpp Δppl", deltaPPLMetric.series(toolLlamaCpp, llama), "A,B,C", "A,B")
	check("llama.cpp KL", meanKLMetric.series(toolLlamaCpp, llama), "A,B,C", "A,B,C")
	check("hyquant Δppl", deltaPPLMetric.series(toolHyquant, hyquant), "D,E,F,G", "D,F")
	check("hyquant KL", meanKLMetric.series(toolHyquant, hyquant), "E,F,G", "E,G")
}

func names(runs []*experiments.RunResult) string {
	out := make([]string, len(runs))
	for i, r := range runs {
		out[i] = r.Name
	}
	return strings.Join(out, ",")
}

// Runs of plans `hyquant search` wrote are a third series: green triangles
// with their own frontier, named in the caption.
func TestFrontierSearchedSeries(t *testing.T) {
	res := frontierResults(true)
	s := res.Runs[len(res.Runs)-1]
	s.Name, s.TotalBytes, s.PPL, s.DeltaPPL = "searched-12mb", 12_000_000, 158.0, 158.0-157.4956
	s.Config.Searched = true
	s.KLStats = &eval.KLStats{Positions: 10230, MeanKL: 0.006, KLP99: 0.06, Top1Agreement: 0.97}
	res.Runs = append(res.Runs, s)
	dir := t.TempDir()
	w, err := Write(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, filepath.Join(dir, FrontierFile), 1200, 1100, map[string]color.Color{
		"searched points": toolStyle(toolSearch).Color, "llama.cpp points": toolStyle(toolLlamaCpp).Color,
	})
	md := readReport(t, w)
	mustContain(t, md, "green triangles the plans `hyquant search` chose under a byte budget")
	mustContain(t, md, "hyquant search `searched-12mb`")
}
