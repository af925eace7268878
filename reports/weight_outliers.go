package reports

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Figure 4: weight outlier statistics per category, two panels of
// horizontal box plots sharing the category axis: max|w|/std per output
// channel (log scale) and excess kurtosis per output channel (symmetric log
// scale), boxes coloured by rollup.

// weightSummary is one category's statistics for tables and captions.
type weightSummary struct {
	category                 string
	rows                     int
	mosMedian, mosP99        float64
	kurtMedian, kurtP99      float64
	mosValues, kurtosisVals  []float64
	hasMOS, hasKurt          bool
	droppedMOS, droppedKurts int
}

// weightSummaries collects the finite statistics per category, in display
// order.
func weightSummaries(d *data) []weightSummary {
	var out []weightSummary
	for _, ws := range d.r.WeightStats {
		s := weightSummary{category: ws.Category, rows: max(len(ws.MaxOverStd), len(ws.Kurtosis))}
		for _, v := range ws.MaxOverStd {
			if v > 0 && !math.IsInf(v, 0) {
				s.mosValues = append(s.mosValues, v)
			} else {
				s.droppedMOS++
			}
		}
		for _, v := range ws.Kurtosis {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				s.kurtosisVals = append(s.kurtosisVals, v)
			} else {
				s.droppedKurts++
			}
		}
		s.hasMOS, s.hasKurt = len(s.mosValues) > 0, len(s.kurtosisVals) > 0
		if !s.hasMOS && !s.hasKurt {
			continue
		}
		s.mosMedian, s.mosP99 = quantile(s.mosValues, 0.5), quantile(s.mosValues, 0.99)
		s.kurtMedian, s.kurtP99 = quantile(s.kurtosisVals, 0.5), quantile(s.kurtosisVals, 0.99)
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool {
		oi, oj := categoryOrder(out[i].category), categoryOrder(out[j].category)
		if oi != oj {
			return oi < oj
		}
		return out[i].category < out[j].category
	})
	return out
}

// quantile is the q-quantile by linear interpolation (NaN when empty).
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	i := int(math.Floor(pos))
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	f := pos - float64(i)
	return s[i]*(1-f) + s[i+1]*f
}

func weightOutliersFigure(dir string, d *data) (figureResult, error) {
	sums := weightSummaries(d)
	if len(sums) == 0 {
		return figureResult{skipped: "no weight statistics in results.json"}, nil
	}
	n := len(sums)
	// Category i is drawn at y = n-1-i so the first category is on top.
	names := make([]string, n)
	for i, s := range sums {
		names[n-1-i] = s.category
	}
	boxW := vg.Points(480) * 0.55 / vg.Length(n)
	if boxW > vg.Points(26) {
		boxW = vg.Points(26)
	}

	var allKurt []float64
	for _, s := range sums {
		allKurt = append(allKurt, s.kurtosisVals...)
	}
	sym := symLog{Thresh: 1}

	left := newPlot("max|w| / std per output channel", "max|w| / std(w) per row (log scale)", "")
	left.X.Tick.Marker = log10Ticks{}
	right := newPlot("excess kurtosis per output channel", "excess kurtosis per row (symmetric log scale)", "")
	right.X.Tick.Marker = sym
	right.Add(vline{X: 0, Style: draw.LineStyle{Color: darkGrey, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}})

	mlo, mhi := math.Inf(1), math.Inf(-1)
	klo, khi := math.Inf(1), math.Inf(-1)
	for i, s := range sums {
		y := float64(n - 1 - i)
		col := rollupColor(rollupOf(s.category))
		style := func(b *plotter.BoxPlot) {
			b.Horizontal = true
			b.FillColor = bandColorAlpha(rollupOf(s.category), 110)
			b.BoxStyle = draw.LineStyle{Color: col, Width: vg.Points(1.2)}
			b.MedianStyle = draw.LineStyle{Color: black, Width: vg.Points(2)}
			b.WhiskerStyle = draw.LineStyle{Color: col, Width: vg.Points(1)}
			b.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(1.6), Shape: draw.RingGlyph{}}
		}
		if s.hasMOS {
			v := make(plotter.Values, len(s.mosValues))
			for j, x := range s.mosValues {
				v[j] = math.Log10(x)
				mlo, mhi = math.Min(mlo, v[j]), math.Max(mhi, v[j])
			}
			b, err := plotter.NewBoxPlot(boxW, y, v)
			if err != nil {
				return figureResult{}, err
			}
			style(b)
			left.Add(b)
		}
		if s.hasKurt {
			v := make(plotter.Values, len(s.kurtosisVals))
			for j, x := range s.kurtosisVals {
				v[j] = sym.F(x)
				klo, khi = math.Min(klo, v[j]), math.Max(khi, v[j])
			}
			b, err := plotter.NewBoxPlot(boxW, y, v)
			if err != nil {
				return figureResult{}, err
			}
			style(b)
			right.Add(b)
		}
	}
	// Both panels share the category axis; only the left one names it.
	left.NominalY(names...)
	var unlabelled plot.ConstantTicks
	for i := range names {
		unlabelled = append(unlabelled, plot.Tick{Value: float64(i)})
	}
	right.Y.Tick.Marker = unlabelled
	right.Y.Tick.Length = 0
	for _, p := range []*plot.Plot{left, right} {
		p.Y.Min, p.Y.Max = -0.6, float64(n)-0.4
	}
	if math.IsInf(mlo, 1) {
		mlo, mhi = 0, 1
	}
	if math.IsInf(klo, 1) {
		klo, khi = -1, 1
	}
	left.X.Min, left.X.Max = padRange(math.Min(mlo, 0), mhi, 0.04, false)
	right.X.Min, right.X.Max = padRange(math.Min(klo, sym.F(-1)), khi, 0.04, false)

	legend := newLegend()
	legendHeader(legend, "rollup (box colour)")
	present := map[string]bool{}
	for _, s := range sums {
		present[rollupOf(s.category)] = true
	}
	for _, r := range []string{"SSM", "MLP", "attention", "other"} {
		if present[r] {
			legend.Add(r, boxThumb{bandColorAlpha(r, 160)})
		}
	}
	legend.Add("")
	legend.Add("box: quartiles; bar: median")
	legend.Add("whiskers: 1.5 × IQR")
	legend.Add("rings: rows beyond whiskers")
	legend.Add("")
	legend.Add("kurtosis 0 (Gaussian)", lineThumb{draw.LineStyle{Color: darkGrey, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}})

	rows := 0
	for _, s := range sums {
		rows += s.rows
	}
	title := "Weight outliers per category (original weights, one value per output channel)"
	notes := []string{fmt.Sprintf("%d output channels in %d categories; heavy tails (high max/std, high kurtosis) stretch each group's scale and waste quantisation levels", rows, n)}
	path := filepath.Join(dir, WeightOutliersFile)
	if err := savePNG(path, figWidth, figHeight, func(dc draw.Canvas) {
		composeFigure(dc, title, notes, [][]*plot.Plot{{left, right}}, legend)
	}); err != nil {
		return figureResult{}, err
	}

	caption := "Per output channel (row) statistics of the original weights by category: max|w|/std(w) (left, logarithmic) and excess kurtosis (right, symmetric logarithmic: linear within ±1; 0 is a Gaussian row). A row with a large max/std has its quantisation scale set by a few outliers, so its other weights fall on few levels."
	caption += " " + outlierContrast(sums)
	return figureResult{fig: &Figure{Number: 4, Path: path, Title: title, Caption: caption}}, nil
}

// outlierContrast states, from the data, how the rollups differ.
func outlierContrast(sums []weightSummary) string {
	type agg struct{ mos, kurt []float64 }
	by := map[string]*agg{}
	for _, s := range sums {
		r := rollupOf(s.category)
		if by[r] == nil {
			by[r] = &agg{}
		}
		by[r].mos = append(by[r].mos, s.mosValues...)
		by[r].kurt = append(by[r].kurt, s.kurtosisVals...)
	}
	var parts []string
	for _, r := range []string{"SSM", "MLP", "attention", "other"} {
		a := by[r]
		if a == nil || len(a.mos) == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s rows have median max/std %.3g and median excess kurtosis %.3g", r, quantile(a.mos, 0.5), quantile(a.kurt, 0.5)))
	}
	if len(parts) == 0 {
		return ""
	}
	s := strings.Join(parts, "; ") + "."
	if by["SSM"] != nil && by["MLP"] != nil && len(by["SSM"].mos) > 0 && len(by["MLP"].mos) > 0 {
		ssm, mlp := quantile(by["SSM"].mos, 0.5), quantile(by["MLP"].mos, 0.5)
		if ssm > mlp {
			s += fmt.Sprintf(" The SSM projections' rows are %.2g× as outlier-dominated as the MLP's, which is why they lose more at the same bit width and gain most from rotations (mambaquant) or finer groups.", ssm/mlp)
		} else {
			s += " Here the MLP rows are at least as outlier-dominated as the SSM projections'."
		}
	}
	return s
}

// bandColorAlpha is a rollup's colour at the given opacity.
func bandColorAlpha(rollup string, alpha uint8) color.NRGBA {
	c := bandColor(rollup)
	c.A = alpha
	return c
}
