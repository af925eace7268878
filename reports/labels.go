package reports

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// labelPoint is a marker that may carry a label.
type labelPoint struct {
	X, Y   float64
	Radius vg.Length // marker radius, kept clear of labels
	Text   string    // "" marks an obstacle only
}

// pointLabels is a plotter that labels points without overlaps: each label
// (in the order given, most important first) takes the first position around
// its point, on rings of growing radius, that stays inside the data area and
// clear of every marker and of the labels already placed; a label moved off
// the first ring gets a thin leader line to its point. When nothing is clear,
// the least-overlapping position wins.
type pointLabels struct {
	Points []labelPoint
	Style  text.Style
	Leader draw.LineStyle
}

// Candidate directions, preferred first: right, left, above, below, then
// the diagonals, then the sixteenths between.
var labelDirs = func() [][2]float64 {
	dirs := [][2]float64{{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}, {-1, 1}, {1, -1}, {-1, -1}}
	for i := range 16 {
		a := (float64(i) + 0.5) * math.Pi / 8
		dirs = append(dirs, [2]float64{math.Cos(a), math.Sin(a)})
	}
	for i := range dirs {
		n := math.Hypot(dirs[i][0], dirs[i][1])
		dirs[i][0] /= n
		dirs[i][1] /= n
	}
	return dirs
}()

func (l *pointLabels) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	type marker struct {
		at vg.Point
		r  vg.Length
	}
	markers := make([]marker, len(l.Points))
	for i, pt := range l.Points {
		markers[i] = marker{vg.Point{X: trX(pt.X), Y: trY(pt.Y)}, pt.Radius + vg.Points(1.5)}
	}
	pad := vg.Points(2)
	var placed []vg.Rectangle
	overlap := func(a, b vg.Rectangle) float64 {
		w := math.Min(float64(a.Max.X), float64(b.Max.X)) - math.Max(float64(a.Min.X), float64(b.Min.X))
		h := math.Min(float64(a.Max.Y), float64(b.Max.Y)) - math.Max(float64(a.Min.Y), float64(b.Min.Y))
		if w <= 0 || h <= 0 {
			return 0
		}
		return w * h
	}
	sty := l.Style
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YBottom
	for i, pt := range l.Points {
		if pt.Text == "" {
			continue
		}
		at := markers[i].at
		if !c.Contains(at) {
			continue
		}
		tr := sty.Rectangle(pt.Text)
		w, h := tr.Max.X-tr.Min.X+2*pad, tr.Max.Y-tr.Min.Y+2*pad
		var best vg.Rectangle
		bestScore, bestRing := math.Inf(1), 0
	search:
		for ring := range 9 {
			d := markers[i].r + vg.Points(2) + vg.Length(ring)*vg.Points(9)
			dirs := labelDirs
			if ring == 0 {
				dirs = labelDirs[:8]
			}
			for _, dir := range dirs {
				q := vg.Point{X: at.X + d*vg.Length(dir[0]), Y: at.Y + d*vg.Length(dir[1])}
				var r vg.Rectangle
				switch {
				case dir[0] > 0.3:
					r.Min.X = q.X
				case dir[0] < -0.3:
					r.Min.X = q.X - w
				default:
					r.Min.X = q.X - w/2
				}
				switch {
				case dir[1] > 0.3:
					r.Min.Y = q.Y
				case dir[1] < -0.3:
					r.Min.Y = q.Y - h
				default:
					r.Min.Y = q.Y - h/2
				}
				r.Max = vg.Point{X: r.Min.X + w, Y: r.Min.Y + h}
				score := 0.0
				if r.Min.X < c.Min.X || r.Max.X > c.Max.X || r.Min.Y < c.Min.Y || r.Max.Y > c.Max.Y {
					score += 1e9
				}
				for _, o := range placed {
					score += 4 * overlap(r, o)
				}
				for _, m := range markers {
					mr := vg.Rectangle{Min: vg.Point{X: m.at.X - m.r, Y: m.at.Y - m.r}, Max: vg.Point{X: m.at.X + m.r, Y: m.at.Y + m.r}}
					score += overlap(r, mr)
				}
				if score == 0 {
					best, bestScore, bestRing = r, 0, ring
					break search
				}
				// Overlaps cost more than distance, but a far clear spot
				// beats a near crowded one.
				score += float64(ring) * 10
				if score < bestScore {
					best, bestScore, bestRing = r, score, ring
				}
			}
		}
		placed = append(placed, best)
		if bestRing > 0 {
			// Leader from the marker's edge to the nearest point of the label.
			nx := math.Max(float64(best.Min.X), math.Min(float64(at.X), float64(best.Max.X)))
			ny := math.Max(float64(best.Min.Y), math.Min(float64(at.Y), float64(best.Max.Y)))
			dx, dy := nx-float64(at.X), ny-float64(at.Y)
			if n := math.Hypot(dx, dy); n > float64(markers[i].r) {
				s := float64(markers[i].r) / n
				c.StrokeLine2(l.Leader, at.X+vg.Length(dx*s), at.Y+vg.Length(dy*s), vg.Length(nx), vg.Length(ny))
			}
		}
		box := []vg.Point{best.Min, {X: best.Min.X, Y: best.Max.Y}, best.Max, {X: best.Max.X, Y: best.Min.Y}}
		c.FillPolygon(color.NRGBA{255, 255, 255, 215}, box)
		c.FillText(sty, vg.Point{X: best.Min.X + pad - tr.Min.X, Y: best.Min.Y + pad - tr.Min.Y}, pt.Text)
	}
}
