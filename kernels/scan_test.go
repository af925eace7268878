package kernels

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

// ssmRef is the selective scan in float64, with the bound M on |S| that
// the float32 error analysis needs: M = M·dA + |dt·x·B| per step.
type ssmRef struct {
	P, N int
	S, M []float64
}

func newSSMRef(P, N int) *ssmRef {
	return &ssmRef{P: P, N: N, S: make([]float64, P*N), M: make([]float64, P*N)}
}

// step advances the reference by one token and returns y (with D·x) and,
// per row, Σ_n M[p][n]·|C[n]|.
func (r *ssmRef) step(x, B, C []float32, dA, dt, D float32) (y, mag []float64) {
	y, mag = make([]float64, r.P), make([]float64, r.P)
	for p := 0; p < r.P; p++ {
		u := float64(dt) * float64(x[p])
		for n := 0; n < r.N; n++ {
			i := p*r.N + n
			r.S[i] = r.S[i]*float64(dA) + u*float64(B[n])
			r.M[i] = r.M[i]*float64(dA) + math.Abs(u*float64(B[n]))
			y[p] += r.S[i] * float64(C[n])
			mag[p] += r.M[i] * math.Abs(float64(C[n]))
		}
		y[p] += float64(D) * float64(x[p])
		mag[p] += math.Abs(float64(D) * float64(x[p]))
	}
	return y, mag
}

// ssmTol bounds the float32 error after `steps` chained tokens: each step
// rounds a state element about three times (the error decays with dA like
// the state), and the output sums N products, sequentially in the portable
// loop (N roundings) or in partial sums in the vector kernels.
func ssmTol(N, steps int, mag float64) float64 {
	return float64(N+4*steps+8) * unitRoundoff * mag
}

func TestSSMScanAgainstFloat64(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	shapes := []struct{ P, N int }{
		{64, 128}, {1, 1}, {3, 5}, {16, 128}, {17, 128}, {70, 128}, {8, 16}, {5, 15}, {16, 17},
		{33, 127}, {2, 129}, {4, 200}, {64, 64}, {31, 8},
	}
	for _, isa := range isas() {
		withISA(t, isa, func() {
			for _, sh := range shapes {
				for _, T := range []int{1, 3, 16, 17, 40} {
					testSSMScan(t, rng, isa, sh.P, sh.N, T)
				}
			}
		})
	}
}

func testSSMScan(t *testing.T, rng *rand.Rand, isa ISA, P, N, T int) {
	t.Helper()
	const sentinel = -777.25
	name := fmt.Sprintf("%v P=%d N=%d T=%d", isa, P, N, T)
	// Token-major inputs with gaps, as the runtime lays them out.
	xs, bcs, ds, ys := P+3, 2*N+5, 3, P+2
	x := make([]float32, T*xs)
	bc := make([]float32, T*bcs)
	dA, dt := make([]float32, T*ds), make([]float32, T*ds)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range bc {
		bc[i] = float32(rng.NormFloat64())
	}
	for i := range dt {
		dt[i] = float32(0.001 + rng.Float64()*0.3)
		dA[i] = Exp32(-dt[i] * float32(0.5+rng.Float64()*4))
	}
	B, C := bc, bc[N+5:]
	D := float32(rng.NormFloat64())
	y := make([]float32, T*ys)
	for i := range y {
		y[i] = sentinel
	}
	S := make([]float32, P*N+7)
	S[P*N] = sentinel

	// Half the tokens through SSMScan, then one SSMStep (with the D term
	// added here), then the rest, to check they chain.
	ref := newSSMRef(P, N)
	h := T / 2
	SSMScan(S, P, N, h, x, xs, B, C, bcs, dA, dt, ds, D, y, ys)
	if h < T {
		SSMStep(S, P, N, x[h*xs:], B[h*bcs:], C[h*bcs:], y[h*ys:], dA[h*ds], dt[h*ds])
		for p := 0; p < P; p++ {
			y[h*ys+p] += D * x[h*xs+p]
		}
	}
	if h+1 < T {
		SSMScan(S, P, N, T-h-1, x[(h+1)*xs:], xs, B[(h+1)*bcs:], C[(h+1)*bcs:], bcs, dA[(h+1)*ds:], dt[(h+1)*ds:], ds, D, y[(h+1)*ys:], ys)
	}
	for tk := 0; tk < T; tk++ {
		want, mag := ref.step(x[tk*xs:], B[tk*bcs:], C[tk*bcs:], dA[tk*ds], dt[tk*ds], D)
		for p := 0; p < P; p++ {
			got := float64(y[tk*ys+p])
			if d := math.Abs(got - want[p]); !(d <= ssmTol(N, tk+1, mag[p])) {
				t.Fatalf("%s: y[%d][%d] = %v, want %v (diff %.3g, tol %.3g)", name, tk, p, got, want[p], d, ssmTol(N, tk+1, mag[p]))
			}
		}
		for p := P; p < ys; p++ {
			if y[tk*ys+p] != sentinel {
				t.Fatalf("%s: y[%d][%d] outside the head written", name, tk, p)
			}
		}
	}
	for i := 0; i < P*N; i++ {
		// A state element is rounded about three times a step.
		if d := math.Abs(float64(S[i]) - ref.S[i]); !(d <= float64(4*T+4)*unitRoundoff*ref.M[i]) {
			t.Fatalf("%s: S[%d] = %v, want %v (diff %.3g)", name, i, S[i], ref.S[i], d)
		}
	}
	if S[P*N] != sentinel {
		t.Fatalf("%s: wrote past the state", name)
	}
}

// TestSSMScanMatchesPortable runs the model's shape through many chained
// tokens and compares each level with the portable loops.
func TestSSMScanMatchesPortable(t *testing.T) {
	const P, N, T = 64, 128, 300
	rng := rand.New(rand.NewSource(9))
	x, B, C := make([]float32, T*P), make([]float32, T*N), make([]float32, T*N)
	dA, dt := make([]float32, T), make([]float32, T)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range B {
		B[i], C[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	for i := range dt {
		dt[i] = float32(rng.Float64() * 0.1)
		dA[i] = Exp32(-dt[i] * 2)
	}
	run := func(isa ISA) (y, S []float32) {
		y, S = make([]float32, T*P), make([]float32, P*N)
		withISA(t, isa, func() { SSMScan(S, P, N, T, x, P, B, C, N, dA, dt, 1, 0.5, y, P) })
		return y, S
	}
	yRef, SRef := run(Portable)
	for _, isa := range isas()[1:] {
		y, S := run(isa)
		worst := 0.0
		for i := range y {
			d := math.Abs(float64(y[i]-yRef[i])) / (1 + math.Abs(float64(yRef[i])))
			worst = max(worst, d)
			if d > 1e-5 {
				t.Fatalf("%v: y[%d] = %v, portable %v", isa, i, y[i], yRef[i])
			}
		}
		for i := range S {
			if d := math.Abs(float64(S[i] - SRef[i])); d > 1e-5*(1+math.Abs(float64(SRef[i]))) {
				t.Fatalf("%v: S[%d] = %v, portable %v", isa, i, S[i], SRef[i])
			}
		}
		t.Logf("%v: largest difference from portable %.3g (relative to 1+|y|)", isa, worst)
	}
}

func TestSSMScanChecksAndAllocs(t *testing.T) {
	const P, N, T = 64, 128, 4
	S := make([]float32, P*N)
	x, bc, y := make([]float32, T*P), make([]float32, T*2*N), make([]float32, T*P)
	dA, dt := make([]float32, T), make([]float32, T)
	for _, isa := range isas() {
		withISA(t, isa, func() {
			if a := testing.AllocsPerRun(10, func() {
				SSMScan(S, P, N, T, x, P, bc, bc[N:], 2*N, dA, dt, 1, 1, y, P)
				SSMStep(S, P, N, x, bc, bc[N:], y, 0.5, 0.1)
			}); a != 0 {
				t.Errorf("%v: %v allocations per call", isa, a)
			}
			for name, f := range map[string]func(){
				"short y":       func() { SSMScan(S, P, N, T, x, P, bc, bc[N:], 2*N, dA, dt, 1, 1, y[:T*P-1], P) },
				"short C":       func() { SSMScan(S, P, N, T, x, P, bc, bc[N+1:], 2*N, dA, dt, 1, 1, y, P) },
				"short dt":      func() { SSMScan(S, P, N, T, x, P, bc, bc[N:], 2*N, dA, dt[:T-1], 1, 1, y, P) },
				"short state":   func() { SSMStep(S[:P*N-1], P, N, x, bc, bc[N:], y, 0.5, 0.1) },
				"negative step": func() { SSMScan(S, P, N, T, x, -1, bc, bc[N:], 2*N, dA, dt, 1, 1, y, P) },
			} {
				func() {
					defer func() {
						if recover() == nil {
							t.Errorf("%v: %s did not panic", isa, name)
						}
					}()
					f()
				}()
			}
		})
	}
}
