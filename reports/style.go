package reports

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/hyquant/hyquant/runtime"
)

// Everything the figures share: sizes, fonts, palettes, scales, the legend
// column and the PNG writer. Figures never pick a colour or a font size of
// their own, so the same method, bit width, layer kind or category looks the
// same in every figure.

// Figure geometry: 12 × 8 inches at 100 dpi is 1200 × 800 pixels.
const (
	DPI = 100
)

var (
	figWidth  = 12 * vg.Inch
	figHeight = 8 * vg.Inch
	// tallHeight is for figures with stacked panels.
	tallHeight = 11 * vg.Inch
)

// pixels is the size in pixels of a figure length at DPI.
func pixels(l vg.Length) int { return int(math.Round(float64(l) / float64(vg.Inch) * DPI)) }

// Font sizes, in points (at 100 dpi one point is 1.39 pixels).
var (
	sans       = font.Font{Typeface: "Liberation", Variant: "Sans"}
	sansBold   = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}
	titleSize  = vg.Points(17)
	panelSize  = vg.Points(15)
	axisSize   = vg.Points(14)
	tickSize   = vg.Points(12)
	legendSize = vg.Points(12.5)
	annotSize  = vg.Points(11)
	smallSize  = vg.Points(10)
)

// textStyle is a style in the figures' typeface.
func textStyle(size vg.Length, c color.Color) text.Style {
	return text.Style{Color: c, Font: font.From(sans, size), Handler: plot.DefaultTextHandler}
}

// newPlot makes a plot with the shared fonts, a grid and labelled axes.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sansBold, panelSize)
	p.Title.Padding = vg.Points(8)
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, axisSize)
		a.Tick.Label.Font = font.From(sans, tickSize)
		a.Label.Padding = vg.Points(4)
	}
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.TextStyle.Font = font.From(sans, legendSize)
	p.Add(grid())
	return p
}

// grid is a light grid behind the data.
func grid() *plotter.Grid {
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 225}
	g.Horizontal.Color = color.Gray{Y: 225}
	g.Vertical.Width = vg.Points(0.6)
	g.Horizontal.Width = vg.Points(0.6)
	return g
}

// newLegend is a legend for the column at the right of a figure.
func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(sans, legendSize)
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(22)
	l.Padding = vg.Points(3)
	return &l
}

// legendHeader adds a text-only line (a section heading) to a legend.
func legendHeader(l *plot.Legend, s string) { l.Add(s) }

// Palettes. Colours are the Okabe–Ito set (safe for colour-blind readers)
// where there are few classes, and hue families per rollup for categories.
var (
	black      = color.RGBA{0, 0, 0, 255}
	darkGrey   = color.RGBA{70, 70, 70, 255}
	midGrey    = color.RGBA{140, 140, 140, 255}
	lightGrey  = color.RGBA{190, 190, 190, 255}
	orange     = color.RGBA{0xE6, 0x9F, 0x00, 255}
	skyBlue    = color.RGBA{0x56, 0xB4, 0xE9, 255}
	green      = color.RGBA{0x00, 0x9E, 0x73, 255}
	yellow     = color.RGBA{0xF0, 0xE4, 0x42, 255}
	blue       = color.RGBA{0x00, 0x72, 0xB2, 255}
	vermillion = color.RGBA{0xD5, 0x5E, 0x00, 255}
	purple     = color.RGBA{0xCC, 0x79, 0xA7, 255}
	claimRed   = color.RGBA{200, 30, 45, 255}
)

// fallback colours for classes the palettes do not name.
var fallback = []color.Color{skyBlue, yellow, color.RGBA{0x88, 0x22, 0x55, 255}, color.RGBA{0x44, 0xAA, 0x99, 255}, color.RGBA{0x99, 0x99, 0x33, 255}, color.RGBA{0x33, 0x22, 0x88, 255}}

func fallbackColor(key string) color.Color {
	var h uint32
	for _, b := range []byte(key) {
		h = h*31 + uint32(b)
	}
	return fallback[h%uint32(len(fallback))]
}

// Method classes used for colour in figure 1.
const (
	classBaseline = "baseline"
	classMixed    = "mixed"
)

// methodColor is the colour of a quantisation method (or of the baseline
// and of mixed-precision plans).
func methodColor(method string) color.Color {
	switch method {
	case classBaseline:
		return black
	case "rtn":
		return vermillion
	case "gptq":
		return blue
	case "mambaquant":
		return green
	case "channel8":
		return orange
	case classMixed:
		return purple
	}
	return fallbackColor(method)
}

// methodLabel names a method class in legends.
func methodLabel(method string) string {
	switch method {
	case classBaseline:
		return "baseline (bf16, nothing quantised)"
	case classMixed:
		return "mixed-precision plan"
	}
	return method
}

// Tools compared in figure 6: llama.cpp's own files and hyquant's pipelines.
const (
	toolLlamaCpp = "llama.cpp (llama-quantize)"
	toolHyquant  = "hyquant"
	toolSearch   = "hyquant search"
)

// toolStyle is a tool's marker in figure 6: orange squares for llama.cpp,
// blue circles for hyquant.
func toolStyle(tool string) draw.GlyphStyle {
	switch tool {
	case toolLlamaCpp:
		return draw.GlyphStyle{Color: orange, Radius: vg.Points(5), Shape: draw.BoxGlyph{}}
	case toolSearch:
		return draw.GlyphStyle{Color: green, Radius: vg.Points(6), Shape: draw.TriangleGlyph{}}
	}
	return draw.GlyphStyle{Color: blue, Radius: vg.Points(5.5), Shape: draw.CircleGlyph{}}
}

// toolShort is a tool's name in legends and captions.
func toolShort(tool string) string {
	if tool == toolLlamaCpp {
		return "llama.cpp"
	}
	return tool
}

// toolFrontStyle is the line through a tool's Pareto frontier in figure 6,
// in the tool's colour; llama.cpp's is dashed.
func toolFrontStyle(tool string) draw.LineStyle {
	s := draw.LineStyle{Color: toolStyle(tool).Color, Width: vg.Points(1.8)}
	switch tool {
	case toolLlamaCpp:
		s.Dashes = []vg.Length{vg.Points(7), vg.Points(4)}
	}
	return s
}

// bitsShape is the glyph of a bit width in figure 1.
func bitsShape(bits int) draw.GlyphDrawer {
	switch bits {
	case 8:
		return draw.CircleGlyph{}
	case 6:
		return draw.RingGlyph{}
	case 5:
		return draw.SquareGlyph{}
	case 4:
		return draw.BoxGlyph{}
	case 3:
		return draw.PyramidGlyph{}
	case 2:
		return diamondGlyph{}
	}
	return draw.CrossGlyph{}
}

// bitsColor is the colour of a bit width in figure 2: darker = fewer bits.
func bitsColor(bits int) color.Color {
	switch bits {
	case 2:
		return color.RGBA{0x67, 0x00, 0x1F, 255}
	case 3:
		return color.RGBA{0xB2, 0x18, 0x2B, 255}
	case 4:
		return color.RGBA{0x21, 0x66, 0xAC, 255}
	case 5:
		return color.RGBA{0x43, 0x93, 0xC3, 255}
	case 6:
		return color.RGBA{0x4D, 0xAC, 0x26, 255}
	case 8:
		return color.RGBA{0x92, 0xC5, 0xDE, 255}
	}
	return fallbackColor(strconv.Itoa(bits))
}

// Layer kinds as results.json names them.
const (
	kindMamba = "Mamba2"
	kindMLP   = "MLP"
	kindAttn  = "attention"
	kindHead  = "lm_head"
)

// layerKinds is the display order of layer kinds.
var layerKinds = []string{kindMamba, kindMLP, kindAttn, kindHead}

// kindStyle is the glyph of a layer kind in figure 3.
func kindStyle(kind string) draw.GlyphStyle {
	r := vg.Points(4.2)
	switch kind {
	case kindMamba:
		return draw.GlyphStyle{Color: blue, Radius: r, Shape: draw.CircleGlyph{}}
	case kindMLP:
		return draw.GlyphStyle{Color: orange, Radius: r, Shape: draw.BoxGlyph{}}
	case kindAttn:
		return draw.GlyphStyle{Color: green, Radius: r + vg.Points(0.6), Shape: draw.PyramidGlyph{}}
	case kindHead:
		return draw.GlyphStyle{Color: purple, Radius: r + vg.Points(1), Shape: diamondGlyph{}}
	}
	return draw.GlyphStyle{Color: fallbackColor(kind), Radius: r, Shape: draw.CrossGlyph{}}
}

// rollupColor is the colour of a rollup group (SSM, MLP, attention, other).
func rollupColor(rollup string) color.Color {
	switch rollup {
	case "SSM":
		return blue
	case "MLP":
		return orange
	case "attention":
		return green
	}
	return purple
}

// categoryColor is a category's colour in stacked bars: a hue family per
// rollup, light to dark within it.
func categoryColor(c runtime.Category) color.Color {
	switch c {
	case runtime.SSMInProj:
		return color.RGBA{0x08, 0x45, 0x94, 255}
	case runtime.SSMOutProj:
		return color.RGBA{0x21, 0x71, 0xB5, 255}
	case runtime.SSMConv1d:
		return color.RGBA{0x6B, 0xAE, 0xD6, 255}
	case runtime.SSMNorm:
		return color.RGBA{0x9E, 0xCA, 0xE1, 255}
	case runtime.SSMCore:
		return color.RGBA{0xC6, 0xDB, 0xEF, 255}
	case runtime.MLPUp:
		return color.RGBA{0xD9, 0x48, 0x01, 255}
	case runtime.MLPDown:
		return color.RGBA{0xFD, 0xAE, 0x6B, 255}
	case runtime.AttnQ:
		return color.RGBA{0x00, 0x6D, 0x2C, 255}
	case runtime.AttnK:
		return color.RGBA{0x31, 0xA3, 0x54, 255}
	case runtime.AttnV:
		return color.RGBA{0x74, 0xC4, 0x76, 255}
	case runtime.AttnO:
		return color.RGBA{0xC7, 0xE9, 0xC0, 255}
	case runtime.Embedding:
		return color.RGBA{0x54, 0x27, 0x8F, 255}
	case runtime.LMHead:
		return color.RGBA{0x9E, 0x9A, 0xC8, 255}
	case runtime.BlockNorm:
		return color.RGBA{0x73, 0x73, 0x73, 255}
	case runtime.FinalNorm:
		return color.RGBA{0xBD, 0xBD, 0xBD, 255}
	}
	return fallbackColor(string(c))
}

// rollupOf is a category's rollup, "other" for names runtime does not know.
func rollupOf(category string) string {
	c, err := runtime.ParseCategory(category)
	if err != nil {
		return "other"
	}
	return c.Rollup()
}

// categoryOrder sorts category names in runtime's display order, unknown
// names last in alphabetical order.
func categoryOrder(name string) int {
	for i, c := range runtime.Categories {
		if string(c) == name {
			return i
		}
	}
	return len(runtime.Categories)
}

// diamondGlyph is a filled diamond.
type diamondGlyph struct{}

func (diamondGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	r := sty.Radius * 1.2
	var p vg.Path
	p.Move(vg.Point{X: pt.X, Y: pt.Y + r})
	p.Line(vg.Point{X: pt.X + r*0.8, Y: pt.Y})
	p.Line(vg.Point{X: pt.X, Y: pt.Y - r})
	p.Line(vg.Point{X: pt.X - r*0.8, Y: pt.Y})
	p.Close()
	c.Fill(p)
}

// starGlyph is a filled five-pointed star: the baseline's marker.
type starGlyph struct{}

func (starGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	var p vg.Path
	for i := range 10 {
		r := sty.Radius
		if i%2 == 1 {
			r *= 0.42
		}
		a := math.Pi/2 + float64(i)*math.Pi/5
		q := vg.Point{X: pt.X + r*vg.Length(math.Cos(a)), Y: pt.Y + r*vg.Length(math.Sin(a))}
		if i == 0 {
			p.Move(q)
		} else {
			p.Line(q)
		}
	}
	p.Close()
	c.Fill(p)
}

// glyphThumb draws a glyph as a legend thumbnail.
type glyphThumb struct{ draw.GlyphStyle }

func (g glyphThumb) Thumbnail(c *draw.Canvas) {
	c.DrawGlyphNoClip(g.GlyphStyle, c.Center())
}

// boxThumb is a filled square legend thumbnail.
type boxThumb struct{ color.Color }

func (b boxThumb) Thumbnail(c *draw.Canvas) {
	ctr := c.Center()
	h := (c.Max.Y - c.Min.Y) * 0.42
	pts := []vg.Point{{X: ctr.X - h, Y: ctr.Y - h}, {X: ctr.X - h, Y: ctr.Y + h}, {X: ctr.X + h, Y: ctr.Y + h}, {X: ctr.X + h, Y: ctr.Y - h}}
	c.FillPolygon(b.Color, pts)
	c.StrokeLines(draw.LineStyle{Color: darkGrey, Width: vg.Points(0.5)}, append(pts, pts[0]))
}

// lineThumb is a line legend thumbnail.
type lineThumb struct{ draw.LineStyle }

func (l lineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(l.LineStyle, c.Min.X, y, c.Max.X, y)
}

// hline is a horizontal reference line across the whole data area.
type hline struct {
	Y     float64
	Style draw.LineStyle
}

func (h hline) Plot(c draw.Canvas, p *plot.Plot) {
	_, trY := p.Transforms(&c)
	y := trY(h.Y)
	if c.ContainsY(y) {
		c.StrokeLine2(h.Style, c.Min.X, y, c.Max.X, y)
	}
}

// vline is a vertical reference line across the data area.
type vline struct {
	X     float64
	Style draw.LineStyle
}

func (v vline) Plot(c draw.Canvas, p *plot.Plot) {
	trX, _ := p.Transforms(&c)
	x := trX(v.X)
	if c.ContainsX(x) {
		c.StrokeLine2(v.Style, x, c.Min.Y, x, c.Max.Y)
	}
}

// logTicks: gonum's LogTicks labels only powers of ten, which leaves
// a span like 150–2000 with one label. logTicks labels 1, 2 and 5 times
// powers of ten (and every integer multiple when the span is short).
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	if min <= 0 || max <= 0 || !(max > min) {
		return nil
	}
	lo, hi := math.Floor(math.Log10(min)), math.Ceil(math.Log10(max))
	// Label 1, 2 and 5 times powers of ten over a couple of decades, every
	// multiple over less than one, powers of ten alone over more.
	major := map[int]bool{1: true, 2: true, 5: true}
	switch span := math.Log10(max / min); {
	case span <= 1:
		major = map[int]bool{1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true, 9: true}
	case span > 2.5:
		major = map[int]bool{1: true}
	}
	var ticks []plot.Tick
	for e := lo; e <= hi; e++ {
		base := math.Pow(10, e)
		for m := 1; m < 10; m++ {
			v := base * float64(m)
			if v < min*0.999999 || v > max*1.000001 {
				continue
			}
			t := plot.Tick{Value: v}
			if major[m] {
				t.Label = formatTick(v)
			}
			ticks = append(ticks, t)
		}
	}
	labelled := 0
	for _, t := range ticks {
		if t.Label != "" {
			labelled++
		}
	}
	if labelled < 2 {
		// A span within one decade: label the ends as well.
		ticks = append(ticks, plot.Tick{Value: min, Label: formatTick(min)}, plot.Tick{Value: max, Label: formatTick(max)})
	}
	return ticks
}

// formatTick writes a tick value without trailing zeros or exponent noise.
func formatTick(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e6 || a < 1e-4:
		return strconv.FormatFloat(v, 'g', 3, 64)
	case a >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// symLog is a symmetric logarithmic transform: linear within ±Thresh, log10
// beyond, so that values of both signs spanning several decades are all
// visible (sensitivity deltas, excess kurtosis).
type symLog struct{ Thresh float64 }

// F maps a value onto the axis.
func (s symLog) F(x float64) float64 {
	return math.Copysign(math.Log10(1+math.Abs(x)/s.Thresh), x)
}

// Inv maps an axis position back to a value.
func (s symLog) Inv(y float64) float64 {
	return math.Copysign(s.Thresh*(math.Pow(10, math.Abs(y))-1), y)
}

// values lists the ticks in data units: 0, ±Thresh·{1, 10, 100, …}
// labelled, with 2× and 5× steps labelled too when the span covers few
// decades.
func (s symLog) values(min, max float64) []plot.Tick {
	ticks := []plot.Tick{}
	add := func(v float64, label bool) {
		if v < min-1e-12 || v > max+1e-12 {
			return
		}
		t := plot.Tick{Value: v}
		if label {
			t.Label = formatTick(v)
		}
		ticks = append(ticks, t)
	}
	add(0, true)
	top := math.Max(math.Abs(min), math.Abs(max))
	few := math.Log10(math.Max(top/s.Thresh, 1)) <= 2.5
	for v := s.Thresh; v <= top*1.0001; v *= 10 {
		for m := 1; m < 10; m++ {
			x := v * float64(m)
			label := m == 1 || (few && (m == 2 || m == 5))
			add(x, label)
			add(-x, label)
		}
	}
	return ticks
}

// Ticks implements plot.Ticker for an axis holding F(values).
func (s symLog) Ticks(min, max float64) []plot.Tick {
	ticks := s.values(s.Inv(min), s.Inv(max))
	for i := range ticks {
		ticks[i].Value = s.F(ticks[i].Value)
	}
	return ticks
}

// log10Ticks is the plot.Ticker for an axis holding log10(values): ticks
// at 1, 2 and 5 times powers of ten, labelled in the original units.
//
// The figures put log10 of the data on a linear axis rather than using
// plot.LogScale: gonum centres the y-axis label's glyph box at the data
// midpoint, which on a log axis sits near the top and pushes the data area
// down by the label's half length.
type log10Ticks struct{}

func (log10Ticks) Ticks(min, max float64) []plot.Tick {
	ticks := logTicks{}.Ticks(math.Pow(10, min), math.Pow(10, max))
	for i := range ticks {
		ticks[i].Value = math.Log10(ticks[i].Value)
	}
	return ticks
}

// symLogThreshold picks the linear range of a symmetric log axis: the
// decade just below the smallest magnitude that matters.
func symLogThreshold(values []float64, floor float64) float64 {
	small := math.Inf(1)
	for _, v := range values {
		if a := math.Abs(v); a > 0 && a < small {
			small = a
		}
	}
	if math.IsInf(small, 1) {
		return 1
	}
	t := math.Pow(10, math.Floor(math.Log10(small)))
	return math.Max(t, floor)
}

// composeFigure draws a figure: a title line, a grid of aligned panels
// (nil panels are left empty), and a legend column at the right that never
// covers data. notes are small lines under the title.
func composeFigure(dc draw.Canvas, title string, notes []string, panels [][]*plot.Plot, legend *plot.Legend) {
	margin := vg.Points(10)
	dc = draw.Crop(dc, margin, -margin, margin, -margin)
	if title != "" {
		sty := textStyle(titleSize, black)
		sty.Font = font.From(sansBold, titleSize)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		dc.FillText(sty, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y}, title)
		dc = draw.Crop(dc, 0, 0, 0, -(sty.Height(title) + vg.Points(4)))
	}
	for _, n := range notes {
		sty := textStyle(annotSize, darkGrey)
		sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
		dc.FillText(sty, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: dc.Max.Y}, n)
		dc = draw.Crop(dc, 0, 0, 0, -(sty.Height(n) + vg.Points(2)))
	}
	if title != "" || len(notes) > 0 {
		dc = draw.Crop(dc, 0, 0, 0, -vg.Points(6))
	}
	if legend != nil {
		r := legend.Rectangle(dc)
		w := r.Max.X - r.Min.X + vg.Points(14)
		lc := draw.Crop(dc, dc.Max.X-dc.Min.X-w+vg.Points(14), 0, 0, -vg.Points(24))
		legend.Draw(lc)
		dc = draw.Crop(dc, 0, -w, 0, 0)
	}
	rows := len(panels)
	cols := 0
	for _, r := range panels {
		cols = max(cols, len(r))
	}
	for i := range panels {
		for len(panels[i]) < cols {
			panels[i] = append(panels[i], nil)
		}
	}
	tiles := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(18), PadY: vg.Points(14)}
	canvases := plot.Align(panels, tiles, dc)
	for i, row := range panels {
		for j, p := range row {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
}

// savePNG draws a figure of the given size and writes it atomically. A panic
// inside gonum/plot (bad ranges on a log axis, say) becomes an error naming
// the figure rather than a crashed run.
func savePNG(path string, w, h vg.Length, drawFn func(dc draw.Canvas)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("drawing %s: %v", filepath.Base(path), r)
		}
	}()
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI), vgimg.UseBackgroundColor(color.White))
	drawFn(draw.New(c))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	return writeFileAtomic(path, buf.Bytes())
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it into place.
func writeFileAtomic(path string, data []byte) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// padRange widens [lo, hi] by a fraction of its span on each side (in log
// space when log is true).
func padRange(lo, hi, frac float64, log bool) (float64, float64) {
	if log {
		a, b := padRange(math.Log10(lo), math.Log10(hi), frac, false)
		return math.Pow(10, a), math.Pow(10, b)
	}
	span := hi - lo
	if span <= 0 {
		span = math.Max(math.Abs(hi), 1) * 0.1
	}
	return lo - frac*span, hi + frac*span
}

// shorten cuts a label to n runes with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// plain hides a plotter's data range and glyph boxes from the plot, for
// panels whose axis ranges are set explicitly: points outside a zoomed
// range must neither widen it nor pad the data area for glyphs that are
// clipped away anyway.
type plain struct{ plot.Plotter }

// niceTicks labels about six steps of 1, 2, 2.5 or 5 times a power of ten,
// with a minor tick between labels.
type niceTicks struct{}

func (niceTicks) Ticks(min, max float64) []plot.Tick {
	if !(max > min) {
		return []plot.Tick{{Value: min, Label: formatTick(min)}}
	}
	raw := (max - min) / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag * 10
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(min/step*2) * step / 2; v <= max+step*1e-9; v += step / 2 {
		t := plot.Tick{Value: v}
		if r := math.Abs(math.Remainder(v, step)); r < step*1e-6 {
			t.Label = formatTick(math.Round(v/step) * step)
		}
		ticks = append(ticks, t)
	}
	return ticks
}
