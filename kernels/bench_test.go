package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks report GFLOP/s (2·m·n·k per call) as a metric; run with
//
//	go test -run '^$' -bench . -count 5 ./kernels/
//
// and keep the best of the repeats: the machine is shared.

// benchShape is one projection: tokens × out × in.
type benchShape struct {
	name    string
	m, n, k int
}

// miniShapes are the projections of the nemotron-h-mini model at a window
// of 1024 tokens, and one 8B-like projection (hidden 4096).
var miniShapes = []benchShape{
	{"mamba_in_proj_1024x1544x256", 1024, 1544, 256},
	{"mamba_out_proj_1024x256x512", 1024, 256, 512},
	{"mlp_up_1024x1280x256", 1024, 1280, 256},
	{"mlp_down_1024x256x1280", 1024, 256, 1280},
	{"lm_head_1024x8192x256", 1024, 8192, 256},
	{"8b_1024x4096x4096", 1024, 4096, 4096},
}

func reportGFLOPS(b *testing.B, m, n, k int) {
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

func BenchmarkMatMulNT(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, s := range miniShapes {
		b.Run(s.name, func(b *testing.B) {
			a, w := randFloats(rng, s.m*s.k), randFloats(rng, s.n*s.k)
			c := make([]float32, s.m*s.n)
			b.ResetTimer()
			for b.Loop() {
				MatMulNT(c, a, w, s.m, s.n, s.k)
			}
			reportGFLOPS(b, s.m, s.n, s.k)
		})
	}
}

func BenchmarkMatMulNN(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Attention P·V: tokens × head_dim × tokens, and a square case.
	for _, s := range []benchShape{{"attn_pv_1024x64x1024", 1024, 64, 1024}, {"1024x1024x1024", 1024, 1024, 1024}} {
		b.Run(s.name, func(b *testing.B) {
			a, w := randFloats(rng, s.m*s.k), randFloats(rng, s.n*s.k)
			c := make([]float32, s.m*s.n)
			for b.Loop() {
				MatMulNN(c, a, w, s.m, s.n, s.k)
			}
			reportGFLOPS(b, s.m, s.n, s.k)
		})
	}
}

func BenchmarkMatMulNTISA(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 3))
	s := benchShape{"1024x1024x1024", 1024, 1024, 1024}
	for _, isa := range isas() {
		b.Run(fmt.Sprintf("%v/%s", isa, s.name), func(b *testing.B) {
			withISA(b, isa, func() {
				a, w := randFloats(rng, s.m*s.k), randFloats(rng, s.n*s.k)
				c := make([]float32, s.m*s.n)
				for b.Loop() {
					MatMulNT(c, a, w, s.m, s.n, s.k)
				}
				reportGFLOPS(b, s.m, s.n, s.k)
			})
		})
	}
}

// linearShapes for the Linear benchmarks: the mini model's in_proj and
// lm_head and the 8B-like square projection, at 1024 tokens.
var linearBenchShapes = []benchShape{
	{"mamba_in_proj_1024x1544x256", 1024, 1544, 256},
	{"mlp_down_1024x256x1280", 1024, 256, 1280},
	{"lm_head_1024x8192x256", 1024, 8192, 256},
	{"8b_1024x4096x4096", 1024, 4096, 4096},
}

func benchLinear(b *testing.B, newLinear func(s benchShape) Linear) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, s := range linearBenchShapes {
		b.Run(s.name, func(b *testing.B) {
			l := newLinear(s)
			x := randFloats(rng, s.m*s.k)
			y := make([]float32, s.m*s.n)
			for b.Loop() {
				l.Apply(y, x, s.m)
			}
			reportGFLOPS(b, s.m, s.n, s.k)
		})
	}
}

func BenchmarkDense(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	benchLinear(b, func(s benchShape) Linear { return NewDense(randFloats(rng, s.n*s.k), s.n, s.k, nil) })
}

func BenchmarkBF16Dense(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 4))
	benchLinear(b, func(s benchShape) Linear {
		raw, _ := halfWeights(rng, s.n, s.k, false)
		return NewBF16Dense(raw, s.n, s.k, nil)
	})
}

func BenchmarkFP16Dense(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 5))
	benchLinear(b, func(s benchShape) Linear {
		raw, _ := halfWeights(rng, s.n, s.k, true)
		return NewFP16Dense(raw, s.n, s.k, nil)
	})
}

func benchQLinear(b *testing.B, bits, group int) {
	rng := rand.New(rand.NewPCG(6, uint64(bits)))
	benchLinear(b, func(s benchShape) Linear {
		q := randQMatrix(rng, s.n, s.k, bits, quantLayout{group: group, asym: true})
		l, err := NewQLinear(q, nil)
		if err != nil {
			b.Fatal(err)
		}
		return l
	})
}

func BenchmarkQLinearInt8(b *testing.B)         { benchQLinear(b, 8, 0) }
func BenchmarkQLinearInt4Group128(b *testing.B) { benchQLinear(b, 4, 128) }
func BenchmarkQLinearInt3Group128(b *testing.B) { benchQLinear(b, 3, 128) }

// BenchmarkFewTokens applies 8B-like 4096×4096 Linears to 1 and 4 tokens
// (token-by-token use), where reading the weights bounds the speed; it
// reports the weight bytes streamed per second as well.
func BenchmarkFewTokens(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 7))
	n, k := 4096, 4096
	raw, _ := halfWeights(rng, n, k, false)
	q := randQMatrix(rng, n, k, 4, quantLayout{group: 128, asym: true})
	q4, err := NewQLinear(q, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		l     Linear
		bytes int
	}{
		{"Dense", NewDense(randFloats(rng, n*k), n, k, nil), 4 * n * k},
		{"BF16Dense", NewBF16Dense(raw, n, k, nil), 2 * n * k},
		{"QLinearInt4Group128", q4, len(q.Codes) + 4*len(q.Scales) + len(q.Zeros)},
	} {
		for _, m := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/tokens=%d", c.name, m), func(b *testing.B) {
				x := randFloats(rng, m*k)
				y := make([]float32, m*n)
				for b.Loop() {
					c.l.Apply(y, x, m)
				}
				reportGFLOPS(b, m, n, k)
				b.ReportMetric(float64(c.bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}
