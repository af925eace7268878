package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// AddWidened64 gives the scalar loop's bits at every ISA, for lengths
// around the vector and unrolled widths (NaN, infinities and subnormals
// among the inputs), and leaves y beyond len(y) alone.
func TestAddWidened64MatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e-40, -0}
	for _, isa := range []ISA{Portable, AVX2, AVX512} {
		if isa > BestISA() {
			continue
		}
		prev := SetISA(isa)
		for _, n := range []int{0, 1, 3, 4, 5, 15, 16, 17, 33, 127, 128, 1000} {
			x, y := make([]float32, n+2), make([]float64, n+2)
			for i := range x {
				x[i], y[i] = float32(rng.NormFloat64()*1e3), rng.NormFloat64()
			}
			if n > 8 {
				copy(x[3:], special)
			}
			want := append([]float64(nil), y...)
			for i := 0; i < n; i++ {
				want[i] += float64(x[i])
			}
			AddWidened64(y[:n], x)
			for i := range y {
				if math.Float64bits(y[i]) != math.Float64bits(want[i]) && !(math.IsNaN(y[i]) && math.IsNaN(want[i])) {
					t.Fatalf("%v, n %d: y[%d] = %v, scalar %v", isa, n, i, y[i], want[i])
				}
			}
		}
		SetISA(prev)
	}
}
