package reports

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hyquant/hyquant/experiments"
)

// Output file names.
const (
	ReportFile          = "report.md"
	PPLMemoryFile       = "ppl_vs_memory.png"
	SensitivityFile     = "sensitivity.png"
	LayerErrorFile      = "layer_error.png"
	WeightOutliersFile  = "weight_outliers.png" // both panels of figure 4
	MemoryBreakdownFile = "memory_breakdown.png"
	FrontierFile        = "frontier.png" // figure 6, only with llama.cpp runs
)

// FigureFiles are the figure files in figure order (1 to 5).
var FigureFiles = []string{PPLMemoryFile, SensitivityFile, LayerErrorFile, WeightOutliersFile, MemoryBreakdownFile}

// OptionalFigureFiles are the figures drawn only when the results call for
// them (figure 6 and on, in order); report.md does not mention them
// otherwise.
var OptionalFigureFiles = []string{FrontierFile}

// Figure is one written figure.
type Figure struct {
	Number  int    // 1..6, fixed per kind of figure so references stay stable
	Path    string // file written
	Title   string
	Caption string
}

// Written lists what Write produced.
type Written struct {
	Dir     string
	Report  string   // path of report.md
	Figures []Figure // figures written, in figure order
	// Skipped says, per figure not drawn, why (no sensitivity runs, no
	// layer errors, …); report.md says the same.
	Skipped []string
}

// Files is every path written: the figures, then the report.
func (w Written) Files() []string {
	var out []string
	for _, f := range w.Figures {
		out = append(out, f.Path)
	}
	if w.Report != "" {
		out = append(out, w.Report)
	}
	return out
}

// figureResult is what a figure builder returns: the figure, or why not,
// or that the results do not call for it (omitted: neither drawn nor
// mentioned, as figure 6 without llama.cpp runs).
type figureResult struct {
	fig     *Figure
	skipped string
	omitted bool
}

// Write draws every figure the results support and report.md into dir
// (created if missing), each file written to a temporary name and renamed
// into place. A figure without data (no sensitivity runs, no layer errors,
// no weight statistics) is skipped with a note in the report; an optional
// figure the results do not call for (figure 6 without llama.cpp runs) is
// left out without one. Figure files
// of an earlier Write that this one did not draw are removed so the
// directory never shows figures the report does not describe.
func Write(dir string, r *experiments.Results) (Written, error) {
	w := Written{Dir: dir}
	if r == nil {
		return w, errors.New("reports: nil results")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return w, err
	}
	d := prepare(r)
	builders := []func(string, *data) (figureResult, error){
		pplMemoryFigure, sensitivityFigure, layerErrorFigure, weightOutliersFigure, memoryBreakdownFigure, frontierFigure,
	}
	figs := make([]figureResult, len(builders))
	for i, b := range builders {
		fr, err := b(dir, d)
		if err != nil {
			return w, fmt.Errorf("reports: figure %d: %w", i+1, err)
		}
		figs[i] = fr
		if fr.fig != nil {
			w.Figures = append(w.Figures, *fr.fig)
		} else if fr.skipped != "" && !fr.omitted {
			w.Skipped = append(w.Skipped, fmt.Sprintf("figure %d: %s", i+1, fr.skipped))
		}
	}
	written := map[string]bool{}
	for _, f := range w.Figures {
		written[filepath.Base(f.Path)] = true
	}
	for _, name := range append(append([]string(nil), FigureFiles...), OptionalFigureFiles...) {
		if !written[name] {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
				return w, err
			}
		}
	}
	md := markdown(dir, d, figs)
	path := filepath.Join(dir, ReportFile)
	if err := writeFileAtomic(path, []byte(md)); err != nil {
		return w, err
	}
	w.Report = path
	return w, nil
}

// data is the results sorted into what the figures and tables need.
type data struct {
	r        *experiments.Results
	baseline *experiments.RunResult // nil when the experiment has none
	plans    []*experiments.RunResult
	sens     []*experiments.RunResult
	all      []*experiments.RunResult // baseline, plans, sensitivity, others
	basePPL  float64                  // NaN without a baseline
}

func prepare(r *experiments.Results) *data {
	d := &data{r: r, basePPL: math.NaN()}
	var other []*experiments.RunResult
	for i := range r.Runs {
		run := &r.Runs[i]
		switch run.Kind {
		case "baseline":
			if d.baseline == nil {
				d.baseline = run
				d.basePPL = run.PPL
				continue
			}
			other = append(other, run)
		case "sensitivity":
			d.sens = append(d.sens, run)
		case "plan":
			d.plans = append(d.plans, run)
		default:
			other = append(other, run)
		}
	}
	if d.baseline != nil {
		d.all = append(d.all, d.baseline)
	}
	d.all = append(d.all, d.plans...)
	d.all = append(d.all, other...)
	d.all = append(d.all, d.sens...)
	return d
}

// finite reports whether a perplexity can be plotted.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) && x > 0 }

// methodClass is the colour class of a run in figure 1: baseline, the
// method of a uniform plan, or mixed when the plan quantises categories
// with different precisions.
func methodClass(run *experiments.RunResult) string {
	if run.Kind == "baseline" {
		return classBaseline
	}
	precs := map[string]bool{}
	for _, p := range precisions(run) {
		if !isKeep(p) {
			precs[p] = true
		}
	}
	if len(precs) > 1 {
		return classMixed
	}
	if run.Config.Method != "" {
		return run.Config.Method
	}
	for p := range precs {
		return strings.Fields(p)[0]
	}
	return classBaseline
}

// precisions maps category -> precision for a run, from its config, else
// from its per-category bytes.
func precisions(run *experiments.RunResult) map[string]string {
	if len(run.Config.Categories) > 0 {
		return run.Config.Categories
	}
	m := map[string]string{}
	for _, c := range run.Categories {
		m[c.Category] = c.Precision
	}
	return m
}

func isKeep(p string) bool { return p == "" || p == "keep" || strings.HasPrefix(p, "keep ") }

// runBits is a run's summary bit width: the config's, else the lowest
// bit width among its quantised categories (0 when none).
func runBits(run *experiments.RunResult) int {
	if run.Config.Bits > 0 {
		return run.Config.Bits
	}
	bits := 0
	for _, p := range precisions(run) {
		var b int
		for _, f := range strings.Fields(p) {
			if _, err := fmt.Sscanf(f, "w%d", &b); err == nil && (bits == 0 || b < bits) {
				bits = b
			}
		}
	}
	return bits
}

// shortPrecision abbreviates a precision string for tables and titles:
// "rtn w4 group:128 sym fp16" -> "rtn w4 g128" (symmetric fp16 scales
// are the defaults and are left out).
func shortPrecision(p string) string {
	var out []string
	for _, f := range strings.Fields(p) {
		switch {
		case f == "sym" || f == "fp16":
			continue
		case strings.HasPrefix(f, "group:"):
			f = "g" + strings.TrimPrefix(f, "group:")
		case f == "channel":
			f = "per-channel"
		}
		out = append(out, f)
	}
	return strings.Join(out, " ")
}

// precisionSummary summarises a run's plan in one line: the quantised
// categories grouped by precision, a whole rollup named as such.
func precisionSummary(run *experiments.RunResult) string {
	precs := precisions(run)
	if len(precs) == 0 {
		if run.Kind == "baseline" {
			return "all kept as stored (bf16)"
		}
		return "—"
	}
	byPrec := map[string][]string{}
	var order []string
	cats := make([]string, 0, len(precs))
	for c := range precs {
		cats = append(cats, c)
	}
	sortCategories(cats)
	var kept []string
	for _, c := range cats {
		p := precs[c]
		if isKeep(p) {
			if p != "" && p != "keep" {
				// A cast (keep bf16) is worth saying.
				kp := "keep " + strings.TrimPrefix(p, "keep ")
				if _, ok := byPrec[kp]; !ok {
					order = append(order, kp)
				}
				byPrec[kp] = append(byPrec[kp], c)
				continue
			}
			kept = append(kept, c)
			continue
		}
		sp := shortPrecision(p)
		if _, ok := byPrec[sp]; !ok {
			order = append(order, sp)
		}
		byPrec[sp] = append(byPrec[sp], c)
	}
	// Quantised groups first, casts after.
	sort.SliceStable(order, func(i, j int) bool {
		return !strings.HasPrefix(order[i], "keep") && strings.HasPrefix(order[j], "keep")
	})
	var parts []string
	for _, p := range order {
		parts = append(parts, p+": "+rollupNames(byPrec[p], cats))
	}
	if len(parts) == 0 {
		return "all kept as stored (bf16)"
	}
	if len(kept) > 0 {
		parts = append(parts, "rest kept")
	}
	return strings.Join(parts, "; ")
}

// rollupNames lists categories, naming a rollup when the list holds every
// category of it that the run has.
func rollupNames(list, all []string) string {
	in := map[string]bool{}
	for _, c := range list {
		in[c] = true
	}
	members := map[string][]string{}
	var rollups []string
	for _, c := range all {
		r := rollupOf(c)
		if _, ok := members[r]; !ok {
			rollups = append(rollups, r)
		}
		members[r] = append(members[r], c)
	}
	var out []string
	done := map[string]bool{}
	for _, c := range list {
		r := rollupOf(c)
		if done[r] {
			continue
		}
		whole := r != "other" && len(members[r]) > 1
		for _, m := range members[r] {
			whole = whole && in[m]
		}
		if whole {
			done[r] = true
			out = append(out, r)
			continue
		}
		out = append(out, c)
	}
	return strings.Join(out, ", ")
}

func sortCategories(cats []string) {
	sort.SliceStable(cats, func(i, j int) bool {
		oi, oj := categoryOrder(cats[i]), categoryOrder(cats[j])
		if oi != oj {
			return oi < oj
		}
		return cats[i] < cats[j]
	})
}
