// Package pngcheck tells whether a figure file is a real plot rather than
// an empty or one-colour canvas; the report tests use it.
package pngcheck

import (
	"image"
	"image/color"
	"image/png"
	"os"
)

// Read decodes a PNG file.
func Read(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return png.Decode(f)
}

// Stats summarises an image's colours.
type Stats struct {
	Distinct     int     // distinct colours
	DominantFrac float64 // share of pixels in the most common colour
	Inked        float64 // share of pixels that are not near-white
}

// Measure counts every pixel's colour.
func Measure(img image.Image) Stats {
	b := img.Bounds()
	counts := map[color.RGBA]int{}
	inked := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			c := color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8), uint8(a >> 8)}
			counts[c]++
			if c.R < 235 || c.G < 235 || c.B < 235 {
				inked++
			}
		}
	}
	n := max(1, b.Dx()*b.Dy())
	most := 0
	for _, v := range counts {
		most = max(most, v)
	}
	return Stats{len(counts), float64(most) / float64(n), float64(inked) / float64(n)}
}
