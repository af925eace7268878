package kernels

import (
	"math/rand/v2"
	"testing"
)

// Selective-scan benchmarks, at every instruction-set level, for one head
// of the Nemotron-H shape (P = 64, N = 128). GFLOP/s counts 5·P·N per token
// (state: multiply, multiply-add; output: multiply-add). Run with
//
//	go test -run '^$' -bench 'SSM' -count 5 ./kernels/

func reportSSM(b *testing.B, P, N, tokens int) {
	b.ReportMetric(5*float64(P*N*tokens)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tokens), "ns/token")
}

func BenchmarkSSMStep(b *testing.B) {
	const P, N = 64, 128
	rng := rand.New(rand.NewPCG(7, 8))
	S := make([]float32, P*N)
	x, B, C, y := randFloats(rng, P), randFloats(rng, N), randFloats(rng, N), make([]float32, P)
	benchISAs(b, "P64_N128", func(b *testing.B) {
		for b.Loop() {
			SSMStep(S, P, N, x, B, C, y, 0.95, 0.01)
		}
		reportSSM(b, P, N, 1)
	})
}

// BenchmarkSSMScan advances one head through a 1024-token window laid out
// as the runtime's buffers are for nemotron-h-mini (conv width 1024, 8
// heads, inner 512).
func BenchmarkSSMScan(b *testing.B) {
	const P, N, T, cd, H, I = 64, 128, 1024, 1024, 8, 512
	rng := rand.New(rand.NewPCG(9, 10))
	S := make([]float32, P*N)
	xbc := randFloats(rng, T*cd)
	dA, dt := make([]float32, T*H), make([]float32, T*H)
	for i := range dt {
		dt[i] = 0.01 + 0.09*rng.Float32()
		dA[i] = Exp32(-dt[i])
	}
	y := make([]float32, T*I)
	benchISAs(b, "P64_N128_T1024", func(b *testing.B) {
		for b.Loop() {
			SSMScan(S, P, N, T, xbc, cd, xbc[I:], xbc[I+2*N:], cd, dA, dt, H, 0.5, y, I)
		}
		reportSSM(b, P, N, T)
	})
	// The same work as the runtime's per-token loop does it today: one
	// SSMStep per token, then the D skip term.
	benchISAs(b, "P64_N128_T1024_stepLoop", func(b *testing.B) {
		for b.Loop() {
			for t := 0; t < T; t++ {
				base := t * cd
				xh := xbc[base : base+P]
				yh := y[t*I : t*I+P]
				SSMStep(S, P, N, xh, xbc[base+I:base+I+N], xbc[base+I+2*N:base+I+3*N], yh, dA[t*H], dt[t*H])
				for i, xv := range xh {
					yh[i] += 0.5 * xv
				}
			}
		}
		reportSSM(b, P, N, T)
	})
}
