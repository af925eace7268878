package reports

import (
	"math"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/hyquant/hyquant/experiments"
)

// Figure 6: llama.cpp's own quantised files against hyquant's pipelines at
// equal bytes. Δppl above and mean KL divergence from the baseline below
// (log scale), both against stored size, with each tool's Pareto frontier
// as a line. Drawn only when the results hold runs of both tools; without
// llama.cpp runs the report leaves it out.

// frontierMetric is what a panel of figure 6 puts on the y axis.
type frontierMetric struct {
	name  string // in captions
	label string // y axis
	logY  bool
	// value is a run's y; ok is false when the run has none to draw.
	value func(*experiments.RunResult) (y float64, ok bool)
}

var (
	deltaPPLMetric = frontierMetric{
		name:  "Δppl",
		label: "Δ perplexity (run − baseline)",
		value: func(r *experiments.RunResult) (float64, bool) {
			return r.DeltaPPL, finite(r.PPL) && !math.IsNaN(r.DeltaPPL) && !math.IsInf(r.DeltaPPL, 0)
		},
	}
	meanKLMetric = frontierMetric{
		name:  "mean KL",
		label: "mean KL from the baseline (nats; log scale)",
		logY:  true,
		value: func(r *experiments.RunResult) (float64, bool) {
			if r.KLStats == nil {
				return 0, false
			}
			return r.MeanKL, r.MeanKL > 0 && !math.IsInf(r.MeanKL, 1)
		},
	}
)

// y is a run's value, for runs known to have one.
func (m frontierMetric) y(r *experiments.RunResult) float64 {
	v, _ := m.value(r)
	return v
}

// toolSeries is one tool's runs that have a value in a panel, and their
// Pareto frontier (fewer bytes and lower value are better).
type toolSeries struct {
	tool  string
	runs  []*experiments.RunResult
	front []*experiments.RunResult
}

// series keeps the runs with a value for m and finds their frontier.
func (m frontierMetric) series(tool string, runs []*experiments.RunResult) toolSeries {
	s := toolSeries{tool: tool}
	for _, r := range runs {
		if _, ok := m.value(r); ok {
			s.runs = append(s.runs, r)
		}
	}
	s.front = paretoBy(s.runs, m.y)
	return s
}

// toolRuns splits the quantised whole-model runs (neither the baseline nor
// sensitivity runs) into llama.cpp's own files, hyquant's written plans and
// the plans `hyquant search` wrote.
func toolRuns(d *data) (llama, hyquant, searched []*experiments.RunResult) {
	for _, r := range d.all {
		switch {
		case r.Kind == "baseline" || r.Kind == "sensitivity":
		case r.Config.LlamaCpp:
			llama = append(llama, r)
		case r.Config.Searched:
			searched = append(searched, r)
		default:
			hyquant = append(hyquant, r)
		}
	}
	return llama, hyquant, searched
}

// toolGroups are the tools with runs, in drawing order.
func toolGroups(llama, hyquant, searched []*experiments.RunResult) (tools []string, runs [][]*experiments.RunResult) {
	for i, g := range [][]*experiments.RunResult{llama, hyquant, searched} {
		if len(g) > 0 {
			tools = append(tools, []string{toolLlamaCpp, toolHyquant, toolSearch}[i])
			runs = append(runs, g)
		}
	}
	return tools, runs
}

// panelSeries is one panel's series, a series per tool.
func (m frontierMetric) panelSeries(tools []string, runs [][]*experiments.RunResult) []toolSeries {
	out := make([]toolSeries, len(tools))
	for i, t := range tools {
		out[i] = m.series(t, runs[i])
	}
	return out
}

// frontierYRange is the padded y range of a panel's points; a linear
// (Δppl) range always holds 0, the baseline.
func frontierYRange(m frontierMetric, series []toolSeries) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	if !m.logY {
		lo, hi = 0, 0
	}
	for _, s := range series {
		for _, r := range s.runs {
			lo, hi = math.Min(lo, m.y(r)), math.Max(hi, m.y(r))
		}
	}
	return padRange(lo, hi, 0.08, m.logY)
}

// frontierXRange is the padded memory range of every drawn run.
func frontierXRange(series ...[]toolSeries) [2]float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, ss := range series {
		for _, s := range ss {
			for _, r := range s.runs {
				lo, hi = math.Min(lo, memMB(r)), math.Max(hi, memMB(r))
			}
		}
	}
	var x [2]float64
	x[0], x[1] = padRange(lo, hi, 0.06, false)
	return x
}

// addToolSeries draws one tool's frontier line and its points.
func addToolSeries(p *plot.Plot, s toolSeries, m frontierMetric, yv func(float64) float64) error {
	xy := func(runs []*experiments.RunResult) plotter.XYs {
		out := make(plotter.XYs, len(runs))
		for i, r := range runs {
			out[i] = plotter.XY{X: memMB(r), Y: yv(m.y(r))}
		}
		return out
	}
	if len(s.front) > 1 {
		ln, err := plotter.NewLine(xy(s.front))
		if err != nil {
			return err
		}
		ln.LineStyle = toolFrontStyle(s.tool)
		p.Add(plain{ln})
	}
	sc, err := plotter.NewScatter(xy(s.runs))
	if err != nil {
		return err
	}
	sc.GlyphStyle = toolStyle(s.tool)
	p.Add(plain{sc})
	return nil
}

// frontierLabels names every point, frontier points first (they get the
// best places), then the rest, each group by memory.
func frontierLabels(series []toolSeries, m frontierMetric, yv func(float64) float64) []labelPoint {
	type point struct {
		r     *experiments.RunResult
		tool  string
		front bool
	}
	var pts []point
	for _, s := range series {
		on := map[*experiments.RunResult]bool{}
		for _, r := range s.front {
			on[r] = true
		}
		for _, r := range s.runs {
			pts = append(pts, point{r, s.tool, on[r]})
		}
	}
	sort.SliceStable(pts, func(i, j int) bool {
		if pts[i].front != pts[j].front {
			return pts[i].front
		}
		return pts[i].r.TotalBytes < pts[j].r.TotalBytes
	})
	out := make([]labelPoint, len(pts))
	for i, pt := range pts {
		out[i] = labelPoint{X: memMB(pt.r), Y: yv(m.y(pt.r)), Radius: toolStyle(pt.tool).Radius, Text: shorten(pt.r.Name, 28)}
	}
	return out
}

// frontierPanel draws one panel of figure 6 over the memory range x.
func frontierPanel(title string, m frontierMetric, series []toolSeries, x [2]float64) (*plot.Plot, error) {
	p := newPlot(title, "tensor bytes (MB, decimal: 1 MB = 10^6 bytes; exact stored bytes)", m.label)
	yv := func(v float64) float64 { return v }
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	if m.logY {
		p.Y.Tick.Marker = log10Ticks{}
		yv = math.Log10
	} else {
		p.Add(hline{Y: 0, Style: baseStyle})
	}
	for _, s := range series {
		if err := addToolSeries(p, s, m, yv); err != nil {
			return nil, err
		}
	}
	p.Add(&pointLabels{
		Points: frontierLabels(series, m, yv),
		Style:  textStyle(annotSize, black),
		Leader: draw.LineStyle{Color: midGrey, Width: vg.Points(0.7)},
	})
	// After every Add: Add widens the axes to the data it is given.
	lo, hi := frontierYRange(m, series)
	p.X.Min, p.X.Max = x[0], x[1]
	p.Y.Min, p.Y.Max = yv(lo), yv(hi)
	return p, nil
}

// frontierLegend names the tools' marks and lines and the baseline.
func frontierLegend(tools []string) *plot.Legend {
	l := newLegend()
	for _, tool := range tools {
		l.Add(tool, glyphThumb{toolStyle(tool)})
	}
	l.Add("")
	legendHeader(l, "Pareto frontier per tool")
	l.Add("  (fewer bytes, lower is better)")
	for _, tool := range tools {
		l.Add(toolShort(tool)+" frontier", lineThumb{toolFrontStyle(tool)})
	}
	l.Add("")
	l.Add("baseline (Δppl 0)", lineThumb{baseStyle})
	return l
}

func frontierFigure(dir string, d *data) (figureResult, error) {
	llama, hyquant, searched := toolRuns(d)
	if len(llama) == 0 || len(hyquant)+len(searched) == 0 {
		return figureResult{omitted: true}, nil
	}
	tools, groups := toolGroups(llama, hyquant, searched)
	delta := deltaPPLMetric.panelSeries(tools, groups)
	for _, s := range delta {
		if len(s.runs) == 0 {
			return figureResult{skipped: "the " + toolShort(s.tool) + " runs have no finite perplexity"}, nil
		}
	}
	kl := meanKLMetric.panelSeries(tools, groups)
	withKL := false
	for _, s := range kl {
		withKL = withKL || len(s.runs) > 0
	}
	x := frontierXRange(delta, kl)
	top, err := frontierPanel("Δ perplexity against the baseline", deltaPPLMetric, delta, x)
	if err != nil {
		return figureResult{}, err
	}
	panels, height := [][]*plot.Plot{{top}}, figHeight
	if withKL {
		bottom, err := frontierPanel("mean KL divergence from the baseline", meanKLMetric, kl, x)
		if err != nil {
			return figureResult{}, err
		}
		panels, height = append(panels, []*plot.Plot{bottom}), tallHeight
	}
	title := "llama.cpp vs hyquant at equal bytes"
	if d.r.Model != "" {
		title += " — " + d.r.Model
	}
	path := filepath.Join(dir, FrontierFile)
	if err := savePNG(path, figWidth, height, func(dc draw.Canvas) {
		composeFigure(dc, title, []string{evalNote(d.r)}, panels, frontierLegend(tools))
	}); err != nil {
		return figureResult{}, err
	}
	caption := frontierCaption(d, append(append(append([]*experiments.RunResult(nil), llama...), hyquant...), searched...), delta, kl, withKL, len(searched) > 0)
	return figureResult{fig: &Figure{Number: 6, Path: path, Title: title, Caption: caption}}, nil
}

// frontierCaption explains the marks and lines of figure 6 and names each
// tool's frontier runs and the runs not drawn.
func frontierCaption(d *data, runs []*experiments.RunResult, delta, kl []toolSeries, withKL, searched bool) string {
	var b strings.Builder
	b.WriteString("Δ perplexity (run − baseline ppl)")
	if withKL {
		b.WriteString(" above and mean KL divergence from the baseline below (nats, log scale)")
	}
	b.WriteString(" against exact stored tensor bytes (decimal MB) for every quantised whole-model run, each point labelled with its run name: " +
		"orange squares are llama.cpp's own files (a llama-quantize recipe with llama.cpp's rounding, nothing rotated or overridden), blue circles hyquant's pipelines")
	if searched {
		b.WriteString(" with written plans, green triangles the plans `hyquant search` chose under a byte budget")
	}
	b.WriteString(". The lines join each tool's Pareto frontier, the runs no other run of the same tool beats with fewer bytes and a lower value: ")
	b.WriteString(frontierNames(deltaPPLMetric, delta))
	if withKL {
		b.WriteString("; " + frontierNames(meanKLMetric, kl))
	}
	b.WriteString(". Where the blue line runs below the orange one, hyquant loses less than llama.cpp at the same size.")
	if d.baseline != nil {
		b.WriteString(" The dotted line at Δppl 0 is the baseline.")
	} else {
		b.WriteString(" Without a baseline run, Δppl is as recorded; the dotted line marks 0.")
	}
	if miss := missing(runs, delta); len(miss) > 0 {
		b.WriteString(" Not drawn, perplexity not finite: " + codeList(miss) + ".")
	}
	if miss := missing(runs, kl); withKL && len(miss) > 0 {
		b.WriteString(" Not in the KL panel (no positive mean KL recorded): " + codeList(miss) + ".")
	}
	return b.String()
}

// frontierNames lists each tool's frontier runs for one panel.
func frontierNames(m frontierMetric, series []toolSeries) string {
	parts := make([]string, len(series))
	for i, s := range series {
		names := make([]string, len(s.front))
		for j, r := range s.front {
			names[j] = r.Name
		}
		parts[i] = toolShort(s.tool) + " " + orNone(codeList(names))
	}
	return m.name + " frontier " + strings.Join(parts, ", ")
}

// missing names the runs that no series of a panel draws.
func missing(runs []*experiments.RunResult, series []toolSeries) []string {
	drawn := map[*experiments.RunResult]bool{}
	for _, s := range series {
		for _, r := range s.runs {
			drawn[r] = true
		}
	}
	var out []string
	for _, r := range runs {
		if !drawn[r] {
			out = append(out, r.Name)
		}
	}
	return out
}
