package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// SubScaled64 gives the scalar loop's bits at every ISA, for lengths
// around the vector and unrolled widths, and leaves y beyond len(y) alone.
func TestSubScaled64MatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, isa := range []ISA{Portable, AVX2, AVX512} {
		if isa > BestISA() {
			continue
		}
		prev := SetISA(isa)
		for _, n := range []int{0, 1, 3, 4, 5, 15, 16, 17, 33, 127, 128, 1000} {
			x, y := make([]float64, n+2), make([]float64, n+2)
			for i := range x {
				x[i], y[i] = rng.NormFloat64()*1e3, rng.NormFloat64()
			}
			a := rng.NormFloat64() / 3
			want := append([]float64(nil), y...)
			for i := 0; i < n; i++ {
				want[i] -= float64(a * x[i])
			}
			SubScaled64(y[:n], x, a)
			for i := range y {
				if math.Float64bits(y[i]) != math.Float64bits(want[i]) {
					t.Fatalf("%v, n %d: y[%d] = %v, scalar %v", isa, n, i, y[i], want[i])
				}
			}
		}
		SetISA(prev)
	}
}
