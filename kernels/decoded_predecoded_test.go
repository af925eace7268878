package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// A predecoded layer gives the packed layer's outputs bit for bit, through
// the GEMM (many rows on the packed panels, few on the decoded rows) and
// the GEMV, with its bias, at every ISA.
func TestPredecodedMatchesDecoded(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	out, in := 70, 2080
	q := &blockInt8{cols: in, codes: make([]int8, out*in), scales: make([]float32, out*in/32)}
	for i := range q.codes {
		q.codes[i] = int8(rng.IntN(255) - 127)
	}
	for i := range q.scales {
		q.scales[i] = rng.Float32() * 0.01
	}
	bias := make([]float32, out)
	for i := range bias {
		bias[i] = float32(rng.NormFloat64())
	}
	l, err := NewDecodedLinear(q, out, in, bias)
	if err != nil {
		t.Fatal(err)
	}
	for _, isa := range []ISA{Portable, AVX2, AVX512} {
		if isa > BestISA() {
			continue
		}
		prev := SetISA(isa)
		checkPredecoded(t, rng, l, l.Predecoded(), in, out)
		SetISA(prev)
	}
}

func checkPredecoded(t *testing.T, rng *rand.Rand, l *DecodedLinear, p Linear, in, out int) {
	t.Helper()
	for _, n := range []int{1, 3, 100, 128, 129, 300} {
		x := make([]float32, n*in)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		want, got := make([]float32, n*out), make([]float32, n*out)
		l.Apply(want, x, n)
		p.Apply(got, x, n)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%d rows: y[%d] = %v predecoded, %v decoded", n, i, got[i], want[i])
			}
		}
	}
}
