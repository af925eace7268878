package reports

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
)

// PrecisionMap draws a plan's precision per layer and category: one cell
// per quantisable tensor, coloured by its exact bits per weight (codes and
// scales included) and labelled with its format; the token embedding sits
// left of layer 0 and lm_head right of the last layer. It is how a searched
// plan's allocation is read at a glance.
func PrecisionMap(path, title string, notes []string, r *plan.Resolved) error {
	cells := precisionCells(r)
	if len(cells) == 0 {
		return fmt.Errorf("%s: the plan has no projection or embedding to draw", path)
	}
	var cats []runtime.Category
	seen := map[runtime.Category]bool{}
	for _, c := range runtime.Categories {
		for _, cell := range cells {
			if cell.cat == c && !seen[c] {
				seen[c] = true
				cats = append(cats, c)
			}
		}
	}
	row := map[runtime.Category]int{}
	for i, c := range cats {
		row[c] = len(cats) - 1 - i // first category on top
	}
	L := len(r.Inventory.Config.Layers)
	p := newPlot("bits per weight of each tensor (codes and scales)", "layer", "")
	p.Add(&cellPlotter{cells: cells, row: row, layers: L})
	p.X.Min, p.X.Max = -1.5, float64(L)+0.5
	p.Y.Min, p.Y.Max = -0.5, float64(len(cats))-0.5
	p.X.Tick.Marker = layerTicks{layers: L}
	p.Y.Tick.Marker = categoryTicks(cats)
	legend := newLegend()
	legendHeader(legend, "bits per weight")
	for _, b := range []float64{2.625, 3.4375, 4.5, 5.5, 6.5625, 8.5, 16, 32} {
		legend.Add(strconv.FormatFloat(b, 'g', -1, 64), boxThumb{bpwColor(b)})
	}
	return savePNG(path, figWidth, figHeight, func(dc draw.Canvas) {
		composeFigure(dc, title, notes, [][]*plot.Plot{{p}}, legend)
	})
}

type precisionCell struct {
	layer int
	cat   runtime.Category
	bpw   float64
	label string
}

// precisionCells lists the drawn tensors: projection weights and the embedding.
func precisionCells(r *plan.Resolved) []precisionCell {
	L := len(r.Inventory.Config.Layers)
	var out []precisionCell
	for _, a := range r.Assignments {
		p := a.Param
		if !(p.Matrix || p.Category == runtime.Embedding) || a.Param.NumElements() == 0 {
			continue
		}
		layer := p.Layer
		switch p.Category {
		case runtime.Embedding:
			layer = -1
		case runtime.LMHead:
			layer = L
		}
		if p.Layer < 0 && p.Category != runtime.Embedding && p.Category != runtime.LMHead {
			continue
		}
		bpw := 8 * float64(quant.LayoutBytes(a)) / float64(p.NumElements())
		out = append(out, precisionCell{layer: layer, cat: p.Category, bpw: bpw, label: specLabel(a)})
	}
	return out
}

// specLabel is a short name of a tensor's precision.
func specLabel(a quant.Assignment) string {
	s := a.Spec
	switch {
	case s.Keep && s.KeepDType != "":
		return quant.FloatDTypeName(s.KeepDType)
	case s.Keep:
		return quant.FloatDTypeName(a.Stored)
	case s.Method == quant.GGMLMethod:
		return s.GGMLType.String()
	}
	return fmt.Sprintf("%s%d", s.Method, s.Bits)
}

// bpwColor maps bits per weight to a colour, on a log scale from 2 (red)
// to 16 (blue); 32 is the darkest blue.
func bpwColor(bpw float64) color.Color {
	cm := moreland.SmoothBlueRed()
	cm.SetMin(0)
	cm.SetMax(1)
	f := (math.Log2(16) - math.Log2(max(2, min(bpw, 16)))) / (math.Log2(16) - 1)
	c, err := cm.At(f)
	if err != nil {
		return color.Gray{Y: 128}
	}
	if bpw > 16 {
		return color.RGBA{R: 20, G: 40, B: 120, A: 255}
	}
	return c
}

// cellPlotter fills one labelled rectangle per cell.
type cellPlotter struct {
	cells  []precisionCell
	row    map[runtime.Category]int
	layers int
}

func (c *cellPlotter) Plot(dc draw.Canvas, p *plot.Plot) {
	tx, ty := p.Transforms(&dc)
	sty := textStyle(smallSize, black)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YCenter
	for _, cell := range c.cells {
		x, y := float64(cell.layer), float64(c.row[cell.cat])
		x0, x1, y0, y1 := tx(x-0.47), tx(x+0.47), ty(y-0.45), ty(y+0.45)
		rect := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
		fill := bpwColor(cell.bpw)
		dc.FillPolygon(fill, rect)
		ts := sty
		if lum(fill) < 0.45 {
			ts.Color = color.White
		}
		dc.FillText(ts, vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}, shortType(cell.label))
	}
}

// shortType drops a K-quant's underscore so labels fit their cells.
func shortType(s string) string {
	if t, err := ggml.ParseType(s); err == nil {
		if n := t.String(); len(n) > 3 && n[len(n)-2] == '_' {
			return n[:len(n)-2] + n[len(n)-1:]
		}
	}
	return s
}

func lum(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)) / 65535
}

// layerTicks labels every layer, the embedding column and lm_head's.
type layerTicks struct{ layers int }

func (t layerTicks) Ticks(min, max float64) []plot.Tick {
	out := []plot.Tick{{Value: -1, Label: "emb"}}
	step := 1
	if t.layers > 30 {
		step = 5
	}
	for l := 0; l < t.layers; l++ {
		label := ""
		if l%step == 0 {
			label = strconv.Itoa(l)
		}
		out = append(out, plot.Tick{Value: float64(l), Label: label})
	}
	return append(out, plot.Tick{Value: float64(t.layers), Label: "head"})
}

// categoryTicks labels the rows, first category on top.
type categoryTicks []runtime.Category

func (c categoryTicks) Ticks(min, max float64) []plot.Tick {
	out := make([]plot.Tick, len(c))
	for i, cat := range c {
		out[i] = plot.Tick{Value: float64(len(c) - 1 - i), Label: string(cat)}
	}
	return out
}
