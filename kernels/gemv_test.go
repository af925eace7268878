package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGEMV drives the GEMV path directly with every row source, 1 to 4
// rows of A, widths that leave 1 to 3 weight rows over, and reductions with
// a masked tail and several gemvKC runs, against float64 products.
func TestGEMV(t *testing.T) {
	if !gemvAvailable() {
		t.Skip("no GEMV path at this ISA level")
	}
	rng := rand.New(rand.NewPCG(43, 44))
	for _, s := range [][2]int{{1, 1}, {5, 3}, {6, 17}, {7, 64}, {13, 1030}, {33, 2100}, {260, 96}} {
		n, k := s[0], s[1]
		type source struct {
			name string
			src  rowSource
			w    []float32
		}
		// NaNs right after the operands catch reads past the masked tail.
		w := nanPadded(randFloats(rng, n*k))
		rawB, wB := halfWeights(rng, n, k, false)
		rawH, wH := halfWeights(rng, n, k, true)
		rawB, rawH = nanPaddedBytes(rawB), nanPaddedBytes(rawH)
		sources := []source{
			{"f32", rawNT{b: w, ldb: k}, w},
			{"bf16", half16Operand{rawB, k, false}, wB},
			{"fp16", half16Operand{rawH, k, true}, wH},
		}
		for bits := 2; bits <= 8; bits++ {
			for _, l := range quantLayouts {
				if bits != 4 && bits != 8 && l.name != "group16-asym" {
					continue
				}
				q := randQMatrix(rng, n, k, bits, l)
				sources = append(sources, source{fmt.Sprintf("q%d/%s", bits, l.name), qOperand{q}, q.Dequantize()})
			}
		}
		for m := 1; m <= gemvMaxRows; m++ {
			a := nanPadded(randFloats(rng, m*k))
			bias := randBias(rng, n, m%2 == 0)
			for _, src := range sources {
				want := naiveLinear(a, src.w, bias, m, n, k)
				c := randFloats(rng, m*n)
				if !gemv(c, n, a, k, src.src, m, n, k, bias) {
					t.Fatalf("%s: gemv declined", src.name)
				}
				var maxRef, maxErr float64
				for i, v := range want {
					maxRef = math.Max(maxRef, math.Abs(v))
					maxErr = math.Max(maxErr, math.Abs(float64(c[i])-v))
				}
				if !(maxErr <= linearTol*maxRef) {
					t.Errorf("%s m=%d n=%d k=%d: max error %.3g, max |y| %.3g", src.name, m, n, k, maxErr, maxRef)
				}
			}
		}
	}
}

// nanPadded returns s followed in memory (beyond its length) by 16 NaNs.
func nanPadded(s []float32) []float32 {
	p := append(s[:len(s):len(s)], make([]float32, 16)...)
	for i := len(s); i < len(p); i++ {
		p[i] = float32(math.NaN())
	}
	return p[:len(s)]
}

// nanPaddedBytes returns s followed in memory by 32 bytes of 0xff, a NaN
// in bf16 and fp16.
func nanPaddedBytes(s []byte) []byte {
	p := append(s[:len(s):len(s)], make([]byte, 32)...)
	for i := len(s); i < len(p); i++ {
		p[i] = 0xff
	}
	return p[:len(s)]
}
