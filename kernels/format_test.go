package kernels

import (
	"math/rand"
	"testing"

	"github.com/x448/float16"
)

// hyquant's group format through the Format seam: bytes packed row by row
// (codes, fp16 scales, zero points) decode to exactly what the QMatrix
// holds, and its Linear equals QLinear's.
func TestGroupFormatMatchesQMatrix(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for _, g := range []GroupFormat{{Bits: 4, GroupSize: 128}, {Bits: 3, GroupSize: 64, Asymmetric: true}, {Bits: 8, GroupSize: 256}} {
		rows, cols := 37, 512
		f, ok := LookupFormat(g.Name())
		if !ok || f != Format(g) {
			t.Fatalf("LookupFormat(%q) = %v, %v", g.Name(), f, ok)
		}
		groups := cols / g.GroupSize
		q := &QMatrix{Rows: rows, Cols: cols, Bits: g.Bits, GroupSize: g.GroupSize}
		codes := make([]uint8, rows*cols)
		for i := range codes {
			codes[i] = uint8(rng.Intn(1 << g.Bits))
		}
		q.Codes = PackCodes(codes, rows, cols, g.Bits)
		rb, _ := g.RowBytes(cols)
		data := make([]byte, 0, rows*rb)
		for r := 0; r < rows; r++ {
			data = append(data, q.Codes[r*q.RowBytes():(r+1)*q.RowBytes()]...)
			for i := 0; i < groups; i++ {
				h := float16.Fromfloat32(rng.Float32() * 0.02)
				q.Scales = append(q.Scales, h.Float32())
				data = append(data, byte(h.Bits()), byte(h.Bits()>>8))
			}
			if g.Asymmetric {
				for i := 0; i < groups; i++ {
					z := uint8(rng.Intn(1 << g.Bits))
					q.Zeros = append(q.Zeros, z)
					data = append(data, z)
				}
			}
		}
		if len(data) != rows*rb {
			t.Fatalf("%s: packed %d bytes, RowBytes says %d", g.Name(), len(data), rows*rb)
		}
		l, err := NewFormatLinear(f, data, rows, cols, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := q.Dequantize()
		got := l.Dequantize()
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: value %d decodes to %g, QMatrix %g", g.Name(), i, got[i], want[i])
			}
		}
		ql, _ := NewQLinear(q, nil)
		x := make([]float32, 9*cols)
		for i := range x {
			x[i] = rng.Float32() - 0.5
		}
		y1, y2 := make([]float32, 9*rows), make([]float32, 9*rows)
		l.Apply(y1, x, 9)
		ql.Apply(y2, x, 9)
		for i := range y1 {
			if d := y1[i] - y2[i]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("%s: y[%d] = %g, QLinear %g", g.Name(), i, y1[i], y2[i])
			}
		}
		if _, err := f.Matrix(data[:len(data)-1], rows, cols); err == nil {
			t.Errorf("%s: a short buffer was accepted", g.Name())
		}
	}
	for _, bad := range []string{"hyquant-w9g128", "hyquant-w4g0", "hyquant-w4g128b", "hyquant-w4", "q9_K"} {
		if _, ok := LookupFormat(bad); ok {
			t.Errorf("LookupFormat(%q) found a format", bad)
		}
	}
	if _, err := (GroupFormat{Bits: 4, GroupSize: 128}).RowBytes(200); err == nil {
		t.Error("a 200-wide row of 128-value groups has a size")
	}
}
