package reports

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"

	"github.com/hyquant/hyquant/experiments"
	"github.com/hyquant/hyquant/runtime"
)

// Figure 3: per-layer relative output error on calibration data, by block
// index (lm_head last), one panel per selected run (the methods compared at
// one bit width), glyphs coloured and shaped by layer kind, log y axis.

// maxErrorPanels caps the small multiples.
const maxErrorPanels = 4

// methodRank orders methods in comparisons: the baseline method first, the
// more elaborate ones after.
func methodRank(m string) int {
	switch m {
	case "rtn":
		return 0
	case "gptq":
		return 1
	case "mambaquant":
		return 2
	}
	return 3
}

// layerErrorRuns picks the runs figure 3 compares: the whole-model,
// single-method runs at the bit width that the most methods share (ties go
// to the width nearest 4, the usual deployment width, then to fewer bits);
// without such a group, the first runs that recorded layer errors.
func layerErrorRuns(d *data) (runs []*experiments.RunResult, bits int) {
	var withErr []*experiments.RunResult
	for _, r := range d.all {
		if r.Kind != "sensitivity" && r.Kind != "baseline" && len(r.LayerErrors) > 0 {
			withErr = append(withErr, r)
		}
	}
	byBits := map[int][]*experiments.RunResult{}
	seen := map[int]map[string]bool{}
	for _, r := range withErr {
		c := methodClass(r)
		if c == classMixed || c == classBaseline {
			continue
		}
		b := runBits(r)
		if seen[b] == nil {
			seen[b] = map[string]bool{}
		}
		if !seen[b][c] {
			seen[b][c] = true
			byBits[b] = append(byBits[b], r)
		}
	}
	best := -1
	for b, rs := range byBits {
		if best < 0 || len(rs) > len(byBits[best]) {
			best = b
			continue
		}
		if len(rs) == len(byBits[best]) {
			db, dbest := math.Abs(float64(b-4)), math.Abs(float64(best-4))
			if db < dbest || (db == dbest && b < best) {
				best = b
			}
		}
	}
	if best >= 0 && len(byBits[best]) >= 2 {
		runs = append(runs, byBits[best]...)
		sort.SliceStable(runs, func(i, j int) bool { return methodRank(methodClass(runs[i])) < methodRank(methodClass(runs[j])) })
		if len(runs) > maxErrorPanels {
			runs = runs[:maxErrorPanels]
		}
		return runs, best
	}
	if len(withErr) > maxErrorPanels {
		withErr = withErr[:maxErrorPanels]
	}
	return withErr, 0
}

// withinBlock spreads the linear layers of one block apart on the x axis,
// in the order the block computes them.
func withinBlock(category string) float64 {
	switch runtime.Category(category) {
	case runtime.SSMInProj, runtime.MLPUp:
		return -0.17
	case runtime.SSMOutProj, runtime.MLPDown:
		return 0.17
	case runtime.AttnQ:
		return -0.27
	case runtime.AttnK:
		return -0.09
	case runtime.AttnV:
		return 0.09
	case runtime.AttnO:
		return 0.27
	}
	return 0
}

func layerErrorFigure(dir string, d *data) (figureResult, error) {
	runs, bits := layerErrorRuns(d)
	if len(runs) == 0 {
		return figureResult{skipped: "no whole-model run recorded per-layer errors"}, nil
	}
	// Blocks, the lm_head position, the shared y range.
	blocks := 0
	lo, hi := math.Inf(1), math.Inf(-1)
	dropped := 0
	for _, r := range runs {
		for _, e := range r.LayerErrors {
			if e.Layer+1 > blocks {
				blocks = e.Layer + 1
			}
			if e.RelError > 0 && !math.IsInf(e.RelError, 0) {
				lo, hi = math.Min(lo, e.RelError), math.Max(hi, e.RelError)
			} else {
				dropped++
			}
		}
	}
	if math.IsInf(lo, 1) {
		return figureResult{skipped: "the selected runs recorded no positive, finite layer errors"}, nil
	}
	headX := float64(blocks) + 1 // a gap before lm_head
	xOf := func(e experiments.LayerError) float64 {
		if e.Layer < 0 || e.LayerKind == kindHead {
			return headX
		}
		return float64(e.Layer) + withinBlock(e.Category)
	}
	ylo, yhi := padRange(lo, hi, 0.06, true)
	if yhi/ylo < 10 {
		// At least a decade, so the log ticks have something to label.
		m := math.Sqrt(ylo * yhi)
		ylo, yhi = m/math.Sqrt(10), m*math.Sqrt(10)
	}

	var ticks []plot.Tick
	step := 1
	if blocks > 40 {
		step = 2
	}
	for i := 0; i < blocks; i++ {
		t := plot.Tick{Value: float64(i)}
		if i%step == 0 {
			t.Label = strconv.Itoa(i)
		}
		ticks = append(ticks, t)
	}
	ticks = append(ticks, plot.Tick{Value: headX, Label: "lm_head"})

	kindsSeen := map[string]bool{}
	var panels [][]*plot.Plot
	for i, r := range runs {
		byKind := map[string]plotter.XYs{}
		for _, e := range r.LayerErrors {
			if !(e.RelError > 0) || math.IsInf(e.RelError, 0) {
				continue
			}
			k := e.LayerKind
			if e.Layer < 0 && k == "" {
				k = kindHead
			}
			byKind[k] = append(byKind[k], plotter.XY{X: xOf(e), Y: math.Log10(e.RelError)})
			kindsSeen[k] = true
		}
		xLabel := ""
		if i == len(runs)-1 {
			xLabel = "block index (layer of the hybrid stack; lm_head after the last block)"
		}
		title := fmt.Sprintf("%s: %s — ppl %s", r.Name, runPrecision(r), fmtPPL(r.PPL))
		if finite(d.basePPL) && finite(r.PPL) {
			title += fmt.Sprintf(" (Δ %+.2f)", r.PPL-d.basePPL)
		}
		p := newPlot(shorten(title, 90), xLabel, "relative output error (log scale)")
		p.Title.TextStyle.Font.Size = axisSize
		p.Y.Tick.Marker = log10Ticks{}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		for _, k := range orderedKinds(byKind) {
			sc, err := plotter.NewScatter(byKind[k])
			if err != nil {
				return figureResult{}, err
			}
			sc.GlyphStyle = kindStyle(k)
			p.Add(plain{sc})
		}
		p.X.Min, p.X.Max = -0.7, headX+0.9
		p.Y.Min, p.Y.Max = math.Log10(ylo), math.Log10(yhi)
		panels = append(panels, []*plot.Plot{p})
	}

	legend := newLegend()
	legendHeader(legend, "layer kind")
	for _, k := range orderedKinds(kindsSeen) {
		legend.Add(k, glyphThumb{kindStyle(k)})
	}
	legend.Add("")
	legend.Add("within a block, left to right:")
	legend.Add("  Mamba2: in_proj, out_proj")
	legend.Add("  MLP: up, down")
	legend.Add("  attention: q, k, v, o")
	legend.Add("")
	legend.Add("error = ||WX − QX||² / ||WX||²")
	legend.Add("  on calibration data")

	height := figHeight
	if len(runs) > 2 {
		height = tallHeight
	}
	title := "Per-layer relative quantisation error"
	switch {
	case bits > 0:
		title = fmt.Sprintf("Per-layer relative quantisation error at %d bits: methods compared", bits)
	case len(runs) > 1:
		title = "Per-layer relative quantisation error by run"
	}
	notes := []string{fmt.Sprintf("calibration: %s, %d segments × %d tokens, seed %d", orDash(d.r.Calib.Text), d.r.Calib.Segments, d.r.Calib.Length, d.r.Calib.Seed)}
	if dropped > 0 {
		notes = append(notes, fmt.Sprintf("%d layer errors not drawn (zero or not finite on a log axis)", dropped))
	}
	path := filepath.Join(dir, LayerErrorFile)
	if err := savePNG(path, figWidth, height, func(dc draw.Canvas) {
		composeFigure(dc, title, notes, panels, legend)
	}); err != nil {
		return figureResult{}, err
	}
	names := make([]string, len(runs))
	for i, r := range runs {
		names[i] = code(r.Name)
	}
	caption := fmt.Sprintf("Relative output error ‖WX − QX‖² / ‖WX‖² of every quantised linear layer on calibration data, by block index (lm_head last), for %s; one panel per run, sharing the logarithmic y axis. Colour and shape give the layer kind (Mamba2, MLP, attention, lm_head); the linear layers of one block are spread slightly left to right in computation order.", strings.Join(names, ", "))
	if bits > 0 {
		caption += fmt.Sprintf(" The runs are the single-method plans at %d bits, the bit width the most methods share.", bits)
	}
	if dropped > 0 {
		caption += fmt.Sprintf(" %d zero or non-finite errors are not drawn.", dropped)
	}
	return figureResult{fig: &Figure{Number: 3, Path: path, Title: title, Caption: caption}}, nil
}

// orderedKinds lists the layer kinds present in display order, unknown
// kinds last.
func orderedKinds[V any](m map[string]V) []string {
	var out []string
	for _, k := range layerKinds {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	var rest []string
	for k := range m {
		known := false
		for _, l := range layerKinds {
			known = known || l == k
		}
		if !known {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// fmtPPL writes a perplexity for titles and tables.
func fmtPPL(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// runPrecision names a run's precisions briefly: the one precision of a
// uniform plan, or the distinct ones of a mixed plan joined by "+".
func runPrecision(r *experiments.RunResult) string {
	precs := precisions(r)
	cats := make([]string, 0, len(precs))
	for c := range precs {
		cats = append(cats, c)
	}
	sortCategories(cats)
	var out []string
	seen := map[string]bool{}
	for _, c := range cats {
		p := precs[c]
		if isKeep(p) || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, shortPrecision(p))
	}
	switch len(out) {
	case 0:
		return "nothing quantised"
	case 1:
		return out[0]
	}
	return "mixed: " + strings.Join(out, " + ")
}
