package reports

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/hyquant/hyquant/experiments"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
)

// Figure 5: stored bytes by category, stacked bars for the baseline and each
// plan: the mini as run (top) and the Nemotron-H-8B config (bottom, from the
// exact footprints), with the 58% claim as a labelled reference line.

// unattributed is the segment of a run that recorded no per-category bytes.
const unattributed = "not broken down"

// stackBar is one bar: a run's bytes per category.
type stackBar struct {
	name     string
	total    int64
	baseline int64
	parts    map[string]int64
}

func barOf(name string, total, baseline int64, cats []experiments.CategoryBytes, useBaseline bool) stackBar {
	b := stackBar{name: name, total: total, baseline: baseline, parts: map[string]int64{}}
	var sum int64
	for _, c := range cats {
		v := c.QuantizedBytes
		if useBaseline {
			v = c.BaselineBytes
		}
		b.parts[c.Category] += v
		sum += v
	}
	if rest := total - sum; rest != 0 {
		b.parts[unattributed] += rest
	}
	return b
}

// miniBars are the baseline and plan runs of the experiment.
func miniBars(d *data) []stackBar {
	var bars []stackBar
	for _, r := range d.all {
		if r.Kind == "sensitivity" {
			continue
		}
		bars = append(bars, barOf(r.Name, r.TotalBytes, r.BaselineBytes, r.Categories, false))
	}
	return bars
}

// bars8B are the 8B baseline (from the first footprint's baseline bytes)
// and every plan's footprint.
func bars8B(d *data) []stackBar {
	fps := d.r.Footprints8B
	if len(fps) == 0 {
		return nil
	}
	bars := []stackBar{barOf("baseline (bf16)", fps[0].Baseline, fps[0].Baseline, fps[0].Categories, true)}
	for _, fp := range fps {
		bars = append(bars, barOf(fp.Plan, fp.Quantized, fp.Baseline, fp.Categories, false))
	}
	return bars
}

// stackCategories lists the categories with bytes in any bar, bottom of the
// stack first.
func stackCategories(bars ...[]stackBar) []string {
	seen := map[string]bool{}
	var cats []string
	for _, bs := range bars {
		for _, b := range bs {
			for c, v := range b.parts {
				if v != 0 && !seen[c] {
					seen[c] = true
					cats = append(cats, c)
				}
			}
		}
	}
	sortCategories(cats)
	return cats
}

// stackPanel draws one panel of stacked bars in the given unit.
// extra is room, in bar slots, kept free right of the last bar.
func stackPanel(title, yLabel string, bars []stackBar, cats []string, unit float64, extra float64) (*plot.Plot, error) {
	p := newPlot(title, "", yLabel)
	n := len(bars)
	slot := vg.Points(600) / vg.Length(float64(n)+extra)
	w := slot * 0.7
	if w > vg.Points(40) {
		w = vg.Points(40)
	}
	var below *plotter.BarChart
	for _, c := range cats {
		v := make(plotter.Values, n)
		for i, b := range bars {
			v[i] = float64(b.parts[c]) / unit
		}
		bc, err := plotter.NewBarChart(v, w)
		if err != nil {
			return nil, err
		}
		bc.Color = segmentColor(c)
		bc.LineStyle = draw.LineStyle{Color: segmentEdge, Width: vg.Points(0.3)}
		if below != nil {
			bc.StackOn(below)
		}
		p.Add(bc)
		below = bc
	}
	// Totals and reductions above the bars.
	maxTotal := 0.0
	for _, b := range bars {
		maxTotal = math.Max(maxTotal, float64(b.total)/unit)
	}
	tl := &totalLabels{}
	for i, b := range bars {
		red := ""
		if b.baseline > 0 && b.total != b.baseline {
			red = fmt.Sprintf("−%.1f%%", 100*(1-float64(b.total)/float64(b.baseline)))
		}
		tl.items = append(tl.items, totalLabel{x: float64(i), y: float64(b.total) / unit, total: float64(b.total) / unit, red: red})
	}
	p.Add(tl)
	names := make([]string, n)
	for i, b := range bars {
		names[i] = b.name
	}
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 7
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	p.X.Min, p.X.Max = -0.6, float64(n)-0.4+extra
	p.Y.Min, p.Y.Max = 0, maxTotal*1.17
	p.Y.Tick.Marker = niceTicks{}
	return p, nil
}

// segmentEdge is the thin outline between stacked segments.
var segmentEdge = lightGrey

func segmentColor(c string) color.Color {
	if c == unattributed {
		return lightGrey
	}
	return categoryColor(runtime.Category(c))
}

// totalLabels writes each bar's total and reduction above it.
type totalLabels struct {
	items []totalLabel
}

type totalLabel struct {
	x, y, total float64
	red         string
}

func (l *totalLabels) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := textStyle(vg.Points(9.5), black)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YBottom
	for _, it := range l.items {
		x, y := trX(it.x), trY(it.y)+vg.Points(2)
		if it.red != "" {
			c.FillText(sty, vg.Point{X: x, Y: y}, it.red)
			y += sty.Height(it.red)
		}
		c.FillText(sty, vg.Point{X: x, Y: y}, fmtSize(it.total))
	}
}

// fmtSize writes a bar total with three significant digits, keeping
// trailing zeros (11.0, not 11).
func fmtSize(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// claimLine is the 58% claim on the 8B panel: 42% of the baseline, with
// its label.
type claimLine struct {
	y    float64 // in the panel's unit: (1 - 0.58) × baseline
	tol  float64 // in the panel's unit: (1 - 0.575) × baseline, still "58%" when rounded
	text string
}

func (cl claimLine) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(cl.y)
	if !c.ContainsY(y) {
		return
	}
	if cl.tol > cl.y {
		// The band of sizes whose reduction still rounds to 58%.
		t := trY(cl.tol)
		c.FillPolygon(claimBand, []vg.Point{{X: c.Min.X, Y: y}, {X: c.Min.X, Y: t}, {X: c.Max.X, Y: t}, {X: c.Max.X, Y: y}})
	}
	c.StrokeLine2(claimStyle, c.Min.X, y, c.Max.X, y)
	// The label sits in the empty margin right of the last bar, so it
	// covers no data.
	sty := textStyle(annotSize, claimRed)
	sty.Font.Weight = sansBold.Weight
	sty.XAlign, sty.YAlign = draw.XRight, draw.YBottom
	pt := vg.Point{X: c.Max.X - vg.Points(3), Y: y + vg.Points(3)}
	if cl.tol > cl.y {
		pt.Y = trY(cl.tol) + vg.Points(2)
	}
	c.FillText(sty, pt, cl.text)
}

var (
	claimStyle = draw.LineStyle{Color: claimRed, Width: vg.Points(1.8), Dashes: []vg.Length{vg.Points(8), vg.Points(4)}}
	claimBand  = color.NRGBA{200, 30, 45, 40}
)

func memoryBreakdownFigure(dir string, d *data) (figureResult, error) {
	mini := miniBars(d)
	big := bars8B(d)
	if len(mini) == 0 && len(big) == 0 {
		return figureResult{skipped: "no runs and no 8B footprints"}, nil
	}
	cats := stackCategories(mini, big)
	var panels [][]*plot.Plot
	model := d.r.Model
	if model == "" {
		model = "the experiment's model"
	}
	if len(mini) > 0 {
		p, err := stackPanel(fmt.Sprintf("%s (as run)", model), "stored size (MB, decimal: 10^6 bytes)", mini, cats, 1e6, 0)
		if err != nil {
			return figureResult{}, err
		}
		panels = append(panels, []*plot.Plot{p})
	}
	if len(big) > 0 {
		base := big[0].baseline
		p, err := stackPanel("Nemotron-H-8B config (exact footprints from shapes)", "stored size (GB, decimal: 10^9 bytes)", big, cats, 1e9, 2.1)
		if err != nil {
			return figureResult{}, err
		}
		target := float64(base) * (1 - plan.ClaimReduction)
		tol := float64(base) * (1 - (plan.ClaimReduction - 0.005))
		p.Add(claimLine{y: target / 1e9, tol: tol / 1e9, text: fmt.Sprintf("58%% claim\n%.3f GB", target/1e9)})
		panels = append(panels, []*plot.Plot{p})
	}

	legend := newLegend()
	legendHeader(legend, "category (top of stack first)")
	for i := len(cats) - 1; i >= 0; i-- {
		c := cats[i]
		legend.Add(c, boxThumb{segmentColor(c)})
	}
	legend.Add("")
	legend.Add("above each bar: total,")
	legend.Add("  reduction vs baseline")
	if len(big) > 0 {
		target := float64(big[0].baseline) * (1 - plan.ClaimReduction)
		legend.Add("58% claim (8B): 42% of bf16", lineThumb{claimStyle})
		legend.Add(fmt.Sprintf("  = %.3f GB = %.2f claim-GB", target/1e9, target/plan.ClaimUnit))
		legend.Add("still rounds to 58%", boxThumb{claimBand})
	}

	height := figHeight
	if len(panels) > 1 {
		height = tallHeight
	}
	title := "Memory by category: baseline and each plan"
	notes := []string{"exact stored bytes per category (codes, scales, zero points and auxiliary tensors included)"}
	if len(big) > 0 {
		notes = append(notes, "GB = 10^9 bytes; the claim's own \"GB\" (claim-GB) is 2^20 × 1000 bytes")
	}
	if len(big) == 0 {
		notes = append(notes, "no 8B footprints in results.json: the 8B panel and the 58% check are missing")
	}
	path := filepath.Join(dir, MemoryBreakdownFile)
	if err := savePNG(path, figWidth, height, func(dc draw.Canvas) {
		composeFigure(dc, title, notes, panels, legend)
	}); err != nil {
		return figureResult{}, err
	}
	caption := "Stored bytes by category, stacked, for the baseline and every plan"
	if len(mini) > 0 {
		caption += fmt.Sprintf(" on %s as run (MB)", model)
	}
	if len(big) > 0 {
		if len(mini) > 0 {
			caption += " and"
		}
		caption += " on the Nemotron-H-8B config (GB, exact footprints computed from shapes). The dashed red line on the 8B panel is the quoted 58% reduction (42% of the bf16 size); the light band above it holds sizes whose reduction still rounds to 58% (57.5% or more), the tolerance the verdict below uses."
	} else {
		caption += ". No 8B footprints were recorded, so the 8B panel is missing."
	}
	return figureResult{fig: &Figure{Number: 5, Path: path, Title: title, Caption: caption}}, nil
}
