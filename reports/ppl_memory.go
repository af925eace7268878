package reports

import (
	"fmt"
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

// Figure 1: perplexity against memory, one labelled point per whole-model
// run (baseline and plans), single-category runs as small unlabelled rings,
// the Pareto frontier as a dashed line.

// logPPLRatio: above this max/min perplexity ratio the y axis is logarithmic.
const logPPLRatio = 2.0

// memMB is a run's stored size in decimal megabytes.
func memMB(run *experiments.RunResult) float64 { return float64(run.TotalBytes) / 1e6 }

// pareto returns the runs on the frontier of (lower memory, lower ppl):
// those no other run matches or beats on both with one strictly better.
// They come sorted by memory.
func pareto(runs []*experiments.RunResult) []*experiments.RunResult {
	return paretoBy(runs, func(r *experiments.RunResult) float64 { return r.PPL })
}

// paretoBy is pareto for any lower-is-better value y of a run.
func paretoBy(runs []*experiments.RunResult, y func(*experiments.RunResult) float64) []*experiments.RunResult {
	s := append([]*experiments.RunResult(nil), runs...)
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].TotalBytes != s[j].TotalBytes {
			return s[i].TotalBytes < s[j].TotalBytes
		}
		return y(s[i]) < y(s[j])
	})
	var out []*experiments.RunResult
	best := math.Inf(1)
	for _, r := range s {
		if v := y(r); v < best {
			out = append(out, r)
			best = v
		}
	}
	return out
}

// figure1Runs splits the runs figure 1 shows: the labelled whole-model runs
// and the single-category (sensitivity) runs, finite perplexities only;
// dropped lists the runs whose perplexity cannot be drawn.
func figure1Runs(d *data) (main, single []*experiments.RunResult, dropped []string) {
	for _, run := range d.all {
		if !finite(run.PPL) {
			dropped = append(dropped, fmt.Sprintf("%s (ppl %v)", printable(run.Name), run.PPL))
			continue
		}
		if run.Kind == "sensitivity" {
			single = append(single, run)
		} else {
			main = append(main, run)
		}
	}
	return main, single, dropped
}

// zoomFactor: when the y axis is logarithmic, a second panel zooms on the
// runs within this factor of the baseline perplexity, on a linear axis.
const zoomFactor = 1.15

// pplStyle is a whole-model run's glyph: colour = method class, shape = bits.
func pplStyle(r *experiments.RunResult) draw.GlyphStyle {
	class := methodClass(r)
	if class == classBaseline {
		return draw.GlyphStyle{Color: black, Radius: vg.Points(9), Shape: starGlyph{}}
	}
	return draw.GlyphStyle{Color: methodColor(class), Radius: vg.Points(5.5), Shape: bitsShape(runBits(r))}
}

var (
	frontStyle = draw.LineStyle{Color: darkGrey, Width: vg.Points(1.6), Dashes: []vg.Length{vg.Points(7), vg.Points(4)}}
	baseStyle  = draw.LineStyle{Color: midGrey, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(2), vg.Points(3)}}
	ringStyle  = draw.GlyphStyle{Color: lightGrey, Radius: vg.Points(3.2), Shape: draw.RingGlyph{}}
)

// pplPanel draws runs into one panel over the given ranges; labelled says
// which whole-model runs carry their name in this panel.
func pplPanel(title, yLabel string, d *data, main, single, front []*experiments.RunResult, labelled func(*experiments.RunResult) bool, logY bool, x, y [2]float64) (*plot.Plot, error) {
	p := newPlot(title, "model memory (MB, decimal: 1 MB = 10^6 bytes; exact stored bytes)", yLabel)
	// yv is where a perplexity sits on the y axis.
	yv := func(v float64) float64 { return v }
	p.Y.Tick.Marker = niceTicks{}
	if logY {
		p.Y.Tick.Marker = log10Ticks{}
		yv = math.Log10
	}
	if d.baseline != nil && finite(d.baseline.PPL) {
		p.Add(hline{Y: yv(d.baseline.PPL), Style: baseStyle})
	}
	if len(front) > 1 {
		xys := make(plotter.XYs, len(front))
		for i, r := range front {
			xys[i] = plotter.XY{X: memMB(r), Y: yv(r.PPL)}
		}
		ln, err := plotter.NewLine(xys)
		if err != nil {
			return nil, err
		}
		ln.LineStyle = frontStyle
		p.Add(plain{ln})
	}
	var labels, obstacles []labelPoint
	if len(single) > 0 {
		xys := make(plotter.XYs, len(single))
		for i, r := range single {
			xys[i] = plotter.XY{X: memMB(r), Y: yv(r.PPL)}
			obstacles = append(obstacles, labelPoint{X: xys[i].X, Y: xys[i].Y, Radius: ringStyle.Radius})
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = ringStyle
		p.Add(plain{sc})
	}
	for _, r := range main {
		sc, err := plotter.NewScatter(plotter.XYs{{X: memMB(r), Y: yv(r.PPL)}})
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = pplStyle(r)
		p.Add(plain{sc})
	}
	// Labels: baseline, then the frontier, then the rest by memory.
	onFront := map[*experiments.RunResult]bool{}
	for _, r := range front {
		onFront[r] = true
	}
	ordered := append([]*experiments.RunResult(nil), main...)
	rank := func(r *experiments.RunResult) int {
		switch {
		case r.Kind == "baseline":
			return 0
		case onFront[r]:
			return 1
		}
		return 2
	}
	sort.SliceStable(ordered, func(i, j int) bool {
		ri, rj := rank(ordered[i]), rank(ordered[j])
		if ri != rj {
			return ri < rj
		}
		return ordered[i].TotalBytes < ordered[j].TotalBytes
	})
	for _, r := range ordered {
		lp := labelPoint{X: memMB(r), Y: yv(r.PPL), Radius: pplStyle(r).Radius}
		if labelled(r) {
			lp.Text = r.Name
			labels = append(labels, lp)
		} else {
			obstacles = append(obstacles, lp)
		}
	}
	p.Add(&pointLabels{
		Points: append(labels, obstacles...),
		Style:  textStyle(annotSize, black),
		Leader: draw.LineStyle{Color: midGrey, Width: vg.Points(0.7)},
	})
	// After every Add: Add widens the axes to the data it is given.
	p.X.Min, p.X.Max = x[0], x[1]
	p.Y.Min, p.Y.Max = yv(y[0]), yv(y[1])
	return p, nil
}

// regionBox outlines a data region (the zoomed area) with a caption.
type regionBox struct {
	X, Y [2]float64
	Text string
}

func (b regionBox) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	x0, x1, y0, y1 := trX(b.X[0]), trX(b.X[1]), trY(b.Y[0]), trY(b.Y[1])
	pad := vg.Points(4)
	x0, x1, y0, y1 = x0-pad, x1+pad, y0-pad, y1+pad
	sty := draw.LineStyle{Color: midGrey, Width: vg.Points(0.8), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}
	c.StrokeLines(sty, c.ClipLinesXY([]vg.Point{{X: x0, Y: y0}, {X: x0, Y: y1}, {X: x1, Y: y1}, {X: x1, Y: y0}, {X: x0, Y: y0}})...)
	ts := textStyle(smallSize, darkGrey)
	ts.XAlign, ts.YAlign = draw.XRight, draw.YBottom
	c.FillText(ts, vg.Point{X: minLength(x1, c.Max.X) - vg.Points(2), Y: y1 + vg.Points(2)}, b.Text)
}

func minLength(a, b vg.Length) vg.Length {
	if a < b {
		return a
	}
	return b
}

func pplMemoryFigure(dir string, d *data) (figureResult, error) {
	main, single, dropped := figure1Runs(d)
	if len(main)+len(single) == 0 {
		return figureResult{skipped: "no run has a finite perplexity"}, nil
	}
	all := append(append([]*experiments.RunResult(nil), main...), single...)
	bounds := func(runs []*experiments.RunResult) (x, y [2]float64) {
		x = [2]float64{math.Inf(1), math.Inf(-1)}
		y = x
		for _, r := range runs {
			x[0], x[1] = math.Min(x[0], memMB(r)), math.Max(x[1], memMB(r))
			y[0], y[1] = math.Min(y[0], r.PPL), math.Max(y[1], r.PPL)
		}
		return x, y
	}
	xb, yb := bounds(all)
	logY := yb[1]/yb[0] > logPPLRatio
	front := pareto(main)

	ev := d.r.Eval
	yLabel := fmt.Sprintf("perplexity (%s, seq_len %d)", orDash(ev.Text), ev.SeqLen)
	yLogLabel := fmt.Sprintf("perplexity (%s, seq_len %d; log scale)", orDash(ev.Text), ev.SeqLen)

	// The zoom: runs within zoomFactor of the baseline (or best) perplexity.
	ref := yb[0]
	if finite(d.basePPL) {
		ref = d.basePPL
	}
	refName := "best"
	if finite(d.basePPL) {
		refName = "baseline"
	}
	limit := ref * zoomFactor
	var zoomMain, zoomSingle []*experiments.RunResult
	inZoom := map[*experiments.RunResult]bool{}
	for _, r := range main {
		if r.PPL <= limit {
			zoomMain = append(zoomMain, r)
			inZoom[r] = true
		}
	}
	for _, r := range single {
		if r.PPL <= limit {
			zoomSingle = append(zoomSingle, r)
		}
	}
	zoom := logY && len(zoomMain) >= 3 && len(zoomMain) < len(main)

	xr := [2]float64{}
	xr[0], xr[1] = padRange(xb[0], xb[1], 0.06, false)
	yr := [2]float64{}
	yr[0], yr[1] = padRange(yb[0], yb[1], 0.07, logY)
	topTitle := ""
	label := func(*experiments.RunResult) bool { return true }
	if zoom {
		topTitle = "all runs"
		label = func(r *experiments.RunResult) bool { return !inZoom[r] }
	}
	top, err := pplPanel(topTitle, map[bool]string{true: yLogLabel, false: yLabel}[logY], d, main, single, front, label, logY, xr, yr)
	if err != nil {
		return figureResult{}, err
	}
	panels := [][]*plot.Plot{{top}}
	height := figHeight
	if zoom {
		zx, zy := bounds(append(append([]*experiments.RunResult(nil), zoomMain...), zoomSingle...))
		top.Add(regionBox{X: zx, Y: [2]float64{math.Log10(zy[0]), math.Log10(zy[1])}, Text: "enlarged below"})
		zxr, zyr := [2]float64{}, [2]float64{}
		zxr[0], zxr[1] = padRange(zx[0], zx[1], 0.06, false)
		zyr[0], zyr[1] = padRange(zy[0], zy[1], 0.1, false)
		bottom, err := pplPanel(fmt.Sprintf("enlarged: runs within %.0f%% of the %s perplexity (linear scale)", (zoomFactor-1)*100, refName),
			yLabel, d, main, single, front, func(r *experiments.RunResult) bool { return inZoom[r] }, false, zxr, zyr)
		if err != nil {
			return figureResult{}, err
		}
		panels = append(panels, []*plot.Plot{bottom})
		height = tallHeight
	}

	// Legend: colour = method, shape = bit width, then the lines.
	legend := newLegend()
	classes := map[string]bool{}
	bitsSeen := map[int]bool{}
	for _, r := range main {
		c := methodClass(r)
		classes[c] = true
		if c != classBaseline {
			bitsSeen[runBits(r)] = true
		}
	}
	legendHeader(legend, "colour: method")
	var classList []string
	for _, c := range []string{classBaseline, "rtn", "gptq", "mambaquant", "channel8", classMixed} {
		if classes[c] {
			classList = append(classList, c)
			delete(classes, c)
		}
	}
	var rest []string
	for c := range classes {
		rest = append(rest, c)
	}
	sort.Strings(rest)
	for _, c := range append(classList, rest...) {
		g := draw.GlyphStyle{Color: methodColor(c), Radius: vg.Points(5), Shape: draw.CircleGlyph{}}
		if c == classBaseline {
			g = draw.GlyphStyle{Color: black, Radius: vg.Points(8), Shape: starGlyph{}}
		}
		legend.Add(methodLabel(c), glyphThumb{g})
	}
	if len(bitsSeen) > 0 {
		legend.Add("")
		legendHeader(legend, "shape: weight bits")
		var bits []int
		for b := range bitsSeen {
			bits = append(bits, b)
		}
		sort.Sort(sort.Reverse(sort.IntSlice(bits)))
		for _, b := range bits {
			name := fmt.Sprintf("%d-bit", b)
			if b == 0 {
				name = "bits unknown"
			}
			legend.Add(name, glyphThumb{draw.GlyphStyle{Color: darkGrey, Radius: vg.Points(5), Shape: bitsShape(b)}})
		}
	}
	legend.Add("")
	if len(front) > 1 {
		legend.Add("Pareto frontier", lineThumb{frontStyle})
		legend.Add("  (lower memory and ppl)")
	}
	if d.baseline != nil && finite(d.baseline.PPL) {
		legend.Add(fmt.Sprintf("baseline ppl %.2f", d.baseline.PPL), lineThumb{baseStyle})
	}
	if len(single) > 0 {
		legend.Add("one category quantised", glyphThumb{ringStyle})
		legend.Add("  (unlabelled; see figure 2)")
	}

	title := "Perplexity vs model memory"
	if d.r.Model != "" {
		title += " — " + d.r.Model
	}
	notes := []string{evalNote(d.r)}
	if len(dropped) > 0 {
		notes = append(notes, "not drawn (perplexity not finite): "+shorten(strings.Join(dropped, ", "), 120))
	}
	path := filepath.Join(dir, PPLMemoryFile)
	if err := savePNG(path, figWidth, height, func(dc draw.Canvas) {
		composeFigure(dc, title, notes, panels, legend)
	}); err != nil {
		return figureResult{}, err
	}

	caption := "Perplexity against exact stored size (decimal MB) for the baseline and every whole-model plan, each point labelled with its run name."
	if len(front) > 1 {
		names := make([]string, len(front))
		for i, r := range front {
			names[i] = code(r.Name)
		}
		caption += " The dashed line is the Pareto frontier (no other run has both lower memory and lower perplexity): " + strings.Join(names, ", ") + "."
	}
	if d.baseline != nil {
		caption += " The black star is the unquantised baseline; the dotted line its perplexity."
	}
	if logY {
		caption += fmt.Sprintf(" The y axis is logarithmic because perplexity spans %.4g to %.4g.", yb[0], yb[1])
	}
	if zoom {
		caption += fmt.Sprintf(" The lower panel enlarges, on a linear axis, the runs within %.0f%% of the %s perplexity (the dashed box above); each run is labelled in exactly one panel.", (zoomFactor-1)*100, refName)
	}
	if len(single) > 0 {
		caption += " Grey rings are the single-category sensitivity runs (unlabelled here, see figure 2)."
	}
	if len(dropped) > 0 {
		caption += " Not drawn, perplexity not finite: " + strings.Join(dropped, ", ") + "."
	}
	return figureResult{fig: &Figure{Number: 1, Path: path, Title: title, Caption: caption}}, nil
}

// evalNote is the one-line description of the evaluation under a title.
func evalNote(r *experiments.Results) string {
	ev := r.Eval
	win := fmt.Sprintf("%d windows", ev.Windows)
	if ev.MaxWindows > 0 {
		win = fmt.Sprintf("first %d windows", ev.Windows)
	}
	return fmt.Sprintf("eval: %s, seq_len %d, %s (%d tokens); calibration: %s, %d × %d tokens",
		orDash(ev.Text), ev.SeqLen, win, ev.Tokens, orDash(r.Calib.Text), r.Calib.Segments, r.Calib.Length)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
