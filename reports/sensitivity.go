package reports

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/hyquant/hyquant/experiments"
)

// Figure 2: per-category sensitivity, the perplexity change when only one
// category is quantised, grouped bars (categories on x, one bar per bit
// width, or per method and bit width when several methods were swept).

// sensSeries is one bar of each group.
type sensSeries struct {
	method string
	bits   int
	label  string // legend text
	prec   string // precision of its runs (the first seen)
}

// sensMatrix is the sensitivity runs arranged by category and series.
type sensMatrix struct {
	cats   []string
	series []sensSeries
	cell   map[[2]int]*experiments.RunResult // [category index, series index]
}

func (m sensMatrix) at(c, s int) *experiments.RunResult { return m.cell[[2]int{c, s}] }

// sensCategory is the one category a sensitivity run quantised.
func sensCategory(run *experiments.RunResult) string {
	if run.Config.Category != "" {
		return run.Config.Category
	}
	var q []string
	for c, p := range precisions(run) {
		if !isKeep(p) {
			q = append(q, c)
		}
	}
	if len(q) == 1 {
		return q[0]
	}
	return ""
}

func sensitivity(d *data) sensMatrix {
	m := sensMatrix{cell: map[[2]int]*experiments.RunResult{}}
	type key struct {
		method string
		bits   int
	}
	catIdx := map[string]int{}
	serIdx := map[key]int{}
	methods := map[string]bool{}
	var runs []*experiments.RunResult
	for _, run := range d.sens {
		c := sensCategory(run)
		if c == "" {
			continue
		}
		runs = append(runs, run)
		methods[run.Config.Method] = true
		if _, ok := catIdx[c]; !ok {
			catIdx[c] = len(m.cats)
			m.cats = append(m.cats, c)
		}
	}
	sortCategories(m.cats)
	for i, c := range m.cats {
		catIdx[c] = i
	}
	for _, run := range runs {
		k := key{run.Config.Method, runBits(run)}
		if _, ok := serIdx[k]; !ok {
			serIdx[k] = len(m.series)
			m.series = append(m.series, sensSeries{method: k.method, bits: k.bits, prec: shortPrecision(precisions(run)[sensCategory(run)])})
		}
	}
	// Fewer bits first; methods alphabetically within a bit width.
	sort.SliceStable(m.series, func(i, j int) bool {
		if m.series[i].bits != m.series[j].bits {
			return m.series[i].bits < m.series[j].bits
		}
		return m.series[i].method < m.series[j].method
	})
	for i := range m.series {
		s := &m.series[i]
		serIdx[key{s.method, s.bits}] = i
		s.label = fmt.Sprintf("%d-bit", s.bits)
		if len(methods) > 1 {
			s.label = fmt.Sprintf("%s %d-bit", s.method, s.bits)
		}
	}
	for _, run := range runs {
		ci := catIdx[sensCategory(run)]
		si := serIdx[key{run.Config.Method, runBits(run)}]
		if prev := m.at(ci, si); prev == nil {
			m.cell[[2]int{ci, si}] = run
		}
	}
	return m
}

func sensitivityFigure(dir string, d *data) (figureResult, error) {
	m := sensitivity(d)
	if len(m.cats) == 0 {
		return figureResult{skipped: "no sensitivity runs (one category quantised at a time) in this experiment"}, nil
	}
	var vals []float64
	for ci := range m.cats {
		for si := range m.series {
			if r := m.at(ci, si); r != nil && !math.IsNaN(r.DeltaPPL) && !math.IsInf(r.DeltaPPL, 0) {
				vals = append(vals, r.DeltaPPL)
			}
		}
	}
	lo, hi := 0.0, 0.0
	small := math.Inf(1)
	for _, v := range vals {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
		if a := math.Abs(v); a > 0 {
			small = math.Min(small, a)
		}
	}
	big := math.Max(-lo, hi)
	useSym := big > 0 && !math.IsInf(small, 1) && big/small > 50
	yv := func(v float64) float64 { return v }
	sym := symLog{Thresh: symLogThreshold(vals, 1e-6)}
	base := "baseline"
	if finite(d.basePPL) {
		base = fmt.Sprintf("baseline %.2f", d.basePPL)
	}
	yLabel := fmt.Sprintf("Δ perplexity (ppl − %s)", base)
	if useSym {
		yv = sym.F
		yLabel = fmt.Sprintf("Δ perplexity (ppl − %s; symmetric log scale)", base)
	}

	p := newPlot("", "category quantised (all others kept as in the baseline)", yLabel)
	if useSym {
		p.Y.Tick.Marker = sym
	}
	// Rollup bands behind the bars.
	p.Add(&rollupBands{cats: m.cats})

	k := len(m.series)
	// About 560 points of data width at this figure size; bars fill 80% of
	// each category slot.
	slot := vg.Points(560) / vg.Length(len(m.cats))
	barW := slot * 0.8 / vg.Length(k)
	if barW > vg.Points(30) {
		barW = vg.Points(30)
	}
	legend := newLegend()
	legendHeader(legend, "bars: weight bits")
	var labels barLabels
	labels.style = textStyle(smallSize, black)
	for si, s := range m.series {
		v := make(plotter.Values, len(m.cats))
		for ci := range m.cats {
			r := m.at(ci, si)
			off := (vg.Length(si) - vg.Length(k-1)/2) * barW
			switch {
			case r == nil:
				labels.add(float64(ci), off, 0, "not run", true)
			case math.IsNaN(r.DeltaPPL) || math.IsInf(r.DeltaPPL, 0):
				labels.add(float64(ci), off, 0, fmt.Sprintf("Δ %v", r.DeltaPPL), true)
			default:
				v[ci] = yv(r.DeltaPPL)
				labels.add(float64(ci), off, v[ci], fmt.Sprintf("%+.3g", r.DeltaPPL), false)
			}
		}
		bc, err := plotter.NewBarChart(v, barW)
		if err != nil {
			return figureResult{}, err
		}
		bc.Color = bitsColor(s.bits)
		if len(m.series) > 1 && s.bits == 0 {
			bc.Color = methodColor(s.method)
		}
		bc.LineStyle = draw.LineStyle{Color: darkGrey, Width: vg.Points(0.5)}
		bc.Offset = (vg.Length(si) - vg.Length(k-1)/2) * barW
		p.Add(bc)
		name := s.label
		if s.prec != "" {
			name += " (" + s.prec + ")"
		}
		legend.Add(name, bc)
	}
	p.Add(hline{Y: 0, Style: draw.LineStyle{Color: black, Width: vg.Points(1)}})
	p.Add(&labels)
	p.NominalX(m.cats...)
	p.X.Tick.Label.Rotation = math.Pi / 6
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	p.X.Min, p.X.Max = -0.6, float64(len(m.cats))-0.4
	// Headroom for the value labels.
	ylo, yhi := yv(lo), yv(hi)
	span := yhi - ylo
	if span <= 0 {
		span = 1
	}
	p.Y.Min = ylo - 0.04*span
	if lo < 0 {
		p.Y.Min = ylo - 0.12*span
	}
	p.Y.Max = yhi + 0.22*span
	legend.Add("")
	legend.Add("number on a bar: its Δ ppl")
	legend.Add("\"not run\": no such run")
	legend.Add("")
	legendHeader(legend, "background: rollup")
	for _, r := range []string{"SSM", "MLP", "attention", "other"} {
		legend.Add(r, boxThumb{bandColor(r)})
	}

	title := "Per-category sensitivity: perplexity change when only one category is quantised"
	notes := []string{evalNote(d.r)}
	if useSym {
		notes = append(notes, fmt.Sprintf("y axis: symmetric log scale, linear within ±%s, logarithmic beyond; negative = better than the baseline", formatTick(sym.Thresh)))
	}
	path := filepath.Join(dir, SensitivityFile)
	if err := savePNG(path, figWidth, figHeight, func(dc draw.Canvas) {
		composeFigure(dc, title, notes, [][]*plot.Plot{{p}}, legend)
	}); err != nil {
		return figureResult{}, err
	}
	caption := fmt.Sprintf("Perplexity change against the baseline when only the category on the x axis is quantised (%d categories, %d bit widths; each bar is labelled with its value).", len(m.cats), len(m.series))
	if useSym {
		caption += fmt.Sprintf(" The y axis is symmetric-logarithmic (linear within ±%s) so that 8-bit deltas of hundredths and low-bit deltas of whole points are both readable, and negative deltas (the quantised model scored slightly better) point down.", formatTick(sym.Thresh))
	}
	missing := 0
	for ci := range m.cats {
		for si := range m.series {
			if m.at(ci, si) == nil {
				missing++
			}
		}
	}
	if missing > 0 {
		caption += fmt.Sprintf(" %d category/bit-width %s not run and %s marked \"not run\".", missing, plural(missing, "combination was", "combinations were"), plural(missing, "is", "are"))
	}
	return figureResult{fig: &Figure{Number: 2, Path: path, Title: title, Caption: caption}}, nil
}

// bandColor is a rollup's light background.
func bandColor(rollup string) color.NRGBA {
	c := rollupColor(rollup)
	r, g, b, _ := c.RGBA()
	return color.NRGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 28}
}

// rollupBands shades the category slots of each rollup and names it at
// the top of the data area.
type rollupBands struct{ cats []string }

func (b *rollupBands) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	sty := textStyle(annotSize, darkGrey)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
	for i := 0; i < len(b.cats); {
		r := rollupOf(b.cats[i])
		j := i
		for j < len(b.cats) && rollupOf(b.cats[j]) == r {
			j++
		}
		x0, x1 := trX(float64(i)-0.48), trX(float64(j-1)+0.48)
		c.FillPolygon(bandColor(r), []vg.Point{{X: x0, Y: c.Min.Y}, {X: x0, Y: c.Max.Y}, {X: x1, Y: c.Max.Y}, {X: x1, Y: c.Min.Y}})
		c.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: c.Max.Y - vg.Points(3)}, r)
		i = j
	}
}

// barLabels writes each bar's value at its end (above a positive bar,
// below a negative one), rotated to fit narrow bars.
type barLabels struct {
	style text.Style
	items []barLabel
}

type barLabel struct {
	x      float64
	off    vg.Length
	y      float64
	text   string
	marker bool // a placeholder ("not run"), drawn in grey
}

func (l *barLabels) add(x float64, off vg.Length, y float64, text string, marker bool) {
	l.items = append(l.items, barLabel{x, off, y, text, marker})
}

func (l *barLabels) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	for _, it := range l.items {
		sty := l.style
		sty.Rotation = math.Pi / 2
		sty.YAlign = draw.YCenter
		x, y := trX(it.x)+it.off, trY(it.y)
		if it.marker {
			sty.Color = midGrey
		}
		if it.y < 0 {
			sty.XAlign = draw.XRight
			y -= vg.Points(3)
		} else {
			sty.XAlign = draw.XLeft
			y += vg.Points(3)
		}
		c.FillText(sty, vg.Point{X: x, Y: y}, it.text)
	}
}
