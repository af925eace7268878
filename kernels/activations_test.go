package kernels

import (
	"math"
	"math/rand"
	"testing"
)

func TestExp32Accuracy(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	worst := 0.0
	check := func(x float32) {
		got := float64(Exp32(x))
		want := math.Exp(float64(x))
		if want == 0 || math.IsInf(want, 0) {
			return
		}
		rel := math.Abs(got-want) / want
		if rel > worst {
			worst = rel
		}
		if rel > 3e-7 {
			t.Fatalf("Exp32(%v) = %v, want %v (rel %.2g)", x, got, want, rel)
		}
	}
	for i := 0; i < 200000; i++ {
		check(float32(rng.Float64()*170 - 85))
	}
	for _, x := range []float32{0, 1, -1, 0.5, -0.5, 20, -20, 88, -87, 1e-8, -1e-8} {
		check(x)
	}
	if Exp32(100) != float32(math.Inf(1)) || Exp32(-100) != 0 || Exp32(0) != 1 {
		t.Fatal("Exp32 limits wrong")
	}
	t.Logf("worst relative error %.3g", worst)
}

func TestActivations(t *testing.T) {
	x := []float32{-3, -0.5, 0, 0.5, 3, -100, 100}
	s := append([]float32(nil), x...)
	SiLU(s)
	r := append([]float32(nil), x...)
	ReLU2(r)
	for i, v := range x {
		want := float64(v) / (1 + math.Exp(-float64(v)))
		if math.Abs(float64(s[i])-want) > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("SiLU(%v) = %v, want %v", v, s[i], want)
		}
		wr := math.Max(float64(v), 0)
		if float64(r[i]) != wr*wr {
			t.Errorf("ReLU2(%v) = %v", v, r[i])
		}
	}
	if got := Softplus(0); math.Abs(float64(got)-math.Log(2)) > 1e-7 {
		t.Errorf("Softplus(0) = %v", got)
	}
	if Softplus(30) != 30 {
		t.Error("Softplus threshold")
	}
	p := []float32{1, 2, 3, 1000}
	if lse := LogSumExp(p); math.Abs(lse-1000) > 1e-9 {
		t.Errorf("LogSumExp = %v", lse)
	}
	q := []float32{1, 2, 3}
	SoftmaxInPlace(q)
	e := []float64{math.Exp(1), math.Exp(2), math.Exp(3)}
	for i := range q {
		if want := e[i] / (e[0] + e[1] + e[2]); math.Abs(float64(q[i])-want) > 1e-6 {
			t.Errorf("softmax[%d] = %v, want %v", i, q[i], want)
		}
	}
}

func TestSSMStepAgainstDefinition(t *testing.T) {
	const P, N = 3, 5
	rng := rand.New(rand.NewSource(2))
	S := make([]float32, P*N)
	ref := make([]float64, P*N)
	for step := 0; step < 4; step++ {
		x, B, C, y := make([]float32, P), make([]float32, N), make([]float32, N), make([]float32, P)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		for i := range B {
			B[i], C[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
		}
		dt := float32(0.3)
		dA := float32(math.Exp(-0.7 * 0.3))
		SSMStep(S, P, N, x, B, C, y, dA, dt)
		for p := 0; p < P; p++ {
			var acc float64
			for n := 0; n < N; n++ {
				ref[p*N+n] = ref[p*N+n]*float64(dA) + float64(dt)*float64(x[p])*float64(B[n])
				acc += ref[p*N+n] * float64(C[n])
			}
			if math.Abs(float64(y[p])-acc) > 1e-5 {
				t.Fatalf("step %d y[%d] = %v, want %v", step, p, y[p], acc)
			}
		}
	}
}
