package kernels

import (
	"math"
	"math/rand"
	"testing"
)

// blockInt8 is a toy block format for the test: blocks of 32 int8 codes
// with one float32 scale each.
type blockInt8 struct {
	cols   int
	codes  []int8
	scales []float32
}

func (b *blockInt8) BlockSize() int { return 32 }

func (b *blockInt8) DecodeRow(dst []float32, r, c0 int) {
	if c0%32 != 0 || len(dst)%32 != 0 {
		panic("unaligned decode")
	}
	for i := range dst {
		c := r*b.cols + c0 + i
		dst[i] = b.scales[c/32] * float32(b.codes[c])
	}
}

func TestDecodedLinearMatchesDense(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, sz := range []struct{ out, in int }{{5, 32}, {70, 96}, {131, 1280}, {64, 2080}} {
		b := &blockInt8{cols: sz.in, codes: make([]int8, sz.out*sz.in), scales: make([]float32, sz.out*sz.in/32)}
		for i := range b.codes {
			b.codes[i] = int8(rng.Intn(255) - 127)
		}
		for i := range b.scales {
			b.scales[i] = rng.Float32() * 0.01
		}
		bias := make([]float32, sz.out)
		for i := range bias {
			bias[i] = rng.Float32()
		}
		l, err := NewDecodedLinear(b, sz.out, sz.in, bias)
		if err != nil {
			t.Fatal(err)
		}
		w := l.Dequantize()
		ref := NewDense(w, sz.out, sz.in, bias)
		for _, n := range []int{1, 3, 4, 5, 37} {
			x := make([]float32, n*sz.in)
			for i := range x {
				x[i] = rng.Float32()*2 - 1
			}
			got := make([]float32, n*sz.out)
			want := make([]float32, n*sz.out)
			l.Apply(got, x, n)
			ref.Apply(want, x, n)
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
					t.Fatalf("%dx%d n=%d: y[%d] = %g, dense gives %g", sz.out, sz.in, n, i, got[i], want[i])
				}
			}
		}
	}
}

func TestNewDecodedLinearRejectsBadSizes(t *testing.T) {
	b := &blockInt8{cols: 40}
	if _, err := NewDecodedLinear(b, 2, 40, nil); err == nil {
		t.Fatal("a 40-wide row of 32-value blocks was accepted")
	}
	b.cols = 64
	if _, err := NewDecodedLinear(b, 2, 64, make([]float32, 3)); err == nil {
		t.Fatal("a 3-value bias for 2 outputs was accepted")
	}
}
