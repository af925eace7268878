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

// testLengths are the slice lengths the vector kernels are checked at:
// empty, shorter than one vector, around the 8- and 16-float vector widths
// and their multiples, and the model's sizes.
var testLengths = []int{0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000, 1024, 1544, 4097}

// ulp32 is the spacing of float32 numbers at |w| (w normal and finite).
func ulp32(w float64) float64 {
	_, e := math.Frexp(w)
	return math.Ldexp(1, e-24)
}

// expTestInputs returns n inputs: mostly uniform over the range where exp
// is finite and non-zero, some beyond it, and the special values.
func expTestInputs(rng *rand.Rand, n int) []float32 {
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 88.72283, 88.72284, 88.5, 88.38, -87.33654, -87.33655,
		-87, 100, -100, 1e-8, -1e-8, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 1e30, -1e30}
	x := make([]float32, n)
	for i := range x {
		switch r := rng.Intn(16); {
		case r == 0:
			x[i] = special[rng.Intn(len(special))]
		case r == 1:
			x[i] = float32(rng.Float64()*400 - 200)
		default:
			x[i] = float32(rng.Float64()*176.2 - 87.4)
		}
	}
	return x
}

// checkExp32 reports whether got is exp(x) as the kernels define it: +Inf
// above 88.72283, 0 below -87.33654, NaN for NaN, else within 2 ulp of the
// exact value.
func checkExp32(x, got float32) (ok bool, ulps float64) {
	switch {
	case x != x:
		return got != got, 0
	case x > 88.72283:
		return math.IsInf(float64(got), 1), 0
	case x < -87.33654:
		return got == 0, 0
	}
	want := math.Exp(float64(x))
	ulps = math.Abs(float64(got)-want) / ulp32(want)
	return ulps <= 2, ulps
}

// guarded returns an n-element slice at a random offset inside a larger
// buffer whose other elements hold a sentinel, and a check that they still
// do (the vector kernels must not write outside the slice).
func guarded(rng *rand.Rand, t *testing.T, src []float32) ([]float32, func()) {
	const sentinel = -12345.5
	off := rng.Intn(17)
	buf := make([]float32, off+len(src)+17)
	for i := range buf {
		buf[i] = sentinel
	}
	x := buf[off : off+len(src) : off+len(src)]
	copy(x, src)
	return x, func() {
		t.Helper()
		for i, v := range buf {
			if (i < off || i >= off+len(src)) && v != sentinel {
				t.Fatalf("element %d outside the slice [%d, %d) overwritten: %v", i, off, off+len(src), v)
			}
		}
	}
}

func TestExp32ScalarAccuracy(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	worst := 0.0
	for i := 0; i < 1_000_000; i++ {
		x := expTestInputs(rng, 1)[0]
		ok, u := checkExp32(x, Exp32(x))
		if !ok {
			t.Fatalf("Exp32(%v) = %v, want %v (%.2f ulp)", x, Exp32(x), math.Exp(float64(x)), u)
		}
		worst = max(worst, u)
	}
	// Near the overflow threshold the result is finite (2^128 scaling).
	if v := Exp32(88.72283); math.IsInf(float64(v), 0) || v < 3.4e38 {
		t.Errorf("Exp32(88.72283) = %v", v)
	}
	t.Logf("worst error %.3f ulp", worst)
}

func TestExpInPlaceISAs(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, isa := range isas() {
		worst := 0.0
		withISA(t, isa, func() {
			for rep := 0; rep < 20; rep++ {
				for _, n := range testLengths {
					in := expTestInputs(rng, n)
					x, check := guarded(rng, t, in)
					ExpInPlace(x)
					check()
					for i, v := range in {
						ok, u := checkExp32(v, x[i])
						if !ok {
							t.Fatalf("%v n=%d: exp(%v) = %v, want %v (%.2f ulp)", isa, n, v, x[i], math.Exp(float64(v)), u)
						}
						// Against the scalar reference: the same cut-offs,
						// and at most 2 ulp apart where finite.
						ref := Exp32(v)
						if ref != ref || math.IsInf(float64(ref), 0) || ref == 0 {
							if !(x[i] != x[i] && ref != ref) && x[i] != ref {
								t.Fatalf("%v: exp(%v) = %v, Exp32 %v", isa, v, x[i], ref)
							}
						} else if d := math.Abs(float64(x[i]-ref)) / ulp32(float64(ref)); d > 2 {
							t.Fatalf("%v: exp(%v) = %v, Exp32 %v (%.1f ulp)", isa, v, x[i], ref, d)
						}
						worst = max(worst, u)
					}
				}
			}
		})
		t.Logf("%v: worst error %.3f ulp", isa, worst)
	}
}

func TestSiLUISAs(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, isa := range isas() {
		worst := 0.0
		withISA(t, isa, func() {
			for rep := 0; rep < 10; rep++ {
				for _, n := range testLengths {
					in := expTestInputs(rng, n)
					for i := range in {
						if rng.Intn(2) == 0 {
							in[i] = float32(rng.NormFloat64() * 4)
						}
					}
					gate := expTestInputs(rng, n)
					x, check := guarded(rng, t, in)
					SiLU(x)
					check()
					xm, checkm := guarded(rng, t, in)
					SiLUMul(xm, gate)
					checkm()
					for i, v := range in {
						want := float64(v) / (1 + math.Exp(-float64(v)))
						g := float64(gate[i])
						wantm := float64(v) * (g / (1 + math.Exp(-g)))
						for _, c := range []struct {
							name      string
							got, want float64
							ref       float32 // the scalar code's result
							arg       float32 // the argument of exp
						}{
							{"SiLU", float64(x[i]), want, v / (1 + Exp32(-v)), -v},
							{"SiLUMul", float64(xm[i]), wantm, v * (gate[i] / (1 + Exp32(-gate[i]))), -gate[i]},
						} {
							if !(c.arg >= -87.33654 && c.arg <= 88.72283) || c.want != c.want || math.IsInf(c.want, 0) || math.Abs(c.want) < 1e-30 {
								// exp cut off to 0 or +Inf, NaN, or a tiny or
								// non-finite result: the scalar code decides.
								ref := float64(c.ref)
								same := c.got == ref || c.got != c.got && ref != ref ||
									math.Abs(c.got) < 1e-30 && math.Abs(ref) < 1e-30 ||
									!math.IsInf(ref, 0) && math.Abs(c.got-ref) <= 4*ulp32(ref)
								if !same {
									t.Fatalf("%v n=%d: %s(%v, gate %v) = %v, scalar %v", isa, n, c.name, v, gate[i], c.got, c.ref)
								}
								continue
							}
							u := math.Abs(c.got-c.want) / ulp32(c.want)
							if u > 4 {
								t.Fatalf("%v n=%d: %s(%v, gate %v) = %v, want %v (%.2f ulp)", isa, n, c.name, v, gate[i], c.got, c.want, u)
							}
							worst = max(worst, u)
						}
					}
				}
			}
			s := []float32{-100, 100, float32(math.NaN()), 0}
			SiLU(s)
			if s[0] != 0 || !math.Signbit(float64(s[0])) || s[1] != 100 || s[2] == s[2] || s[3] != 0 {
				t.Errorf("%v: SiLU(-100, 100, NaN, 0) = %v", isa, s)
			}
		})
		t.Logf("%v: worst error %.3f ulp", isa, worst)
	}
}

func TestReLU2ISAs(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for _, isa := range isas() {
		withISA(t, isa, func() {
			for _, n := range testLengths {
				in := expTestInputs(rng, n)
				x, check := guarded(rng, t, in)
				ReLU2(x)
				check()
				for i, v := range in {
					var want float32
					if v > 0 {
						want = v * v
					}
					if math.Float32bits(x[i]) != math.Float32bits(want) {
						t.Fatalf("%v: ReLU2(%v) = %v, want %v", isa, v, x[i], want)
					}
				}
			}
		})
	}
}

// softmax64 is softmax and log-sum-exp in float64.
func softmax64(x []float32) ([]float64, float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v))
	}
	e := make([]float64, len(x))
	var s float64
	for i, v := range x {
		e[i] = math.Exp(float64(v) - m)
		s += e[i]
	}
	for i := range e {
		e[i] /= s
	}
	return e, m + math.Log(s)
}

func TestSoftmaxLogSumExpISAs(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	for _, isa := range isas() {
		worstLSE := 0.0
		withISA(t, isa, func() {
			for rep := 0; rep < 10; rep++ {
				for _, n := range append(testLengths[1:], 8192) {
					in := make([]float32, n)
					scale := []float64{0.1, 3, 30}[rep%3]
					for i := range in {
						in[i] = float32(rng.NormFloat64()*scale + 5)
					}
					want, wantLSE := softmax64(in)
					m := max32(in)
					// Rounding the shifted inputs x−m to float32 changes
					// exp(x−m) by up to |x−m|·2^-24 relatively.
					var shiftErr float64
					for i, w := range want {
						shiftErr += w * math.Abs(float64(in[i]-m)) * unitRoundoff
					}
					lse := LogSumExp(in)
					// The exponentials are within 2 ulp, so the sum they
					// add up to in float64 is within 2^-22 relatively (plus
					// the shift rounding) and its log within 2.4e-7 + that.
					if d := math.Abs(lse - wantLSE); d > 2.5e-7+shiftErr {
						t.Fatalf("%v n=%d: LogSumExp = %.9g, want %.9g (diff %.3g)", isa, n, lse, wantLSE, d)
					} else {
						worstLSE = max(worstLSE, d)
					}
					x, check := guarded(rng, t, in)
					SoftmaxInPlace(x)
					check()
					// float32 partial sums: relative error about
					// (2 + n/16)·2^-24 for the sum, 2 ulp per exponential.
					tol := (6 + float64(n)/8) * unitRoundoff
					for i, w := range want {
						tol := tol + math.Abs(float64(in[i]-m))*unitRoundoff
						if d := math.Abs(float64(x[i]) - w); d > tol*w+1e-30 {
							t.Fatalf("%v n=%d: softmax[%d] = %v, want %v (rel %.3g)", isa, n, i, x[i], w, d/w)
						}
					}
				}
			}
			// NaNs and infinities give what the scalar code gives.
			nan, inf := float32(math.NaN()), float32(math.Inf(1))
			for _, in := range [][]float32{
				{1, nan, 2}, {inf, 1, 2}, {-inf, -inf}, {-inf, 0}, {nan},
				append(make([]float32, 40), nan), append(make([]float32, 40), inf), append(make([]float32, 40), -inf),
			} {
				lse := LogSumExp(in)
				withISA(t, Portable, func() {
					if ref := LogSumExp(in); !(lse == ref || lse != lse && ref != ref) {
						t.Errorf("%v: LogSumExp(%v) = %v, portable %v", isa, in, lse, ref)
					}
				})
				x := append([]float32(nil), in...)
				SoftmaxInPlace(x)
				ref := append([]float32(nil), in...)
				withISA(t, Portable, func() { SoftmaxInPlace(ref) })
				for i := range x {
					if !(x[i] == ref[i] || x[i] != x[i] && ref[i] != ref[i]) {
						t.Errorf("%v: softmax(%v) = %v, portable %v", isa, in, x, ref)
						break
					}
				}
			}
		})
		t.Logf("%v: worst LogSumExp error %.3g", isa, worstLSE)
	}
}

func TestActivationsDoNotAllocate(t *testing.T) {
	x, g := make([]float32, 1000), make([]float32, 1000)
	for _, isa := range isas() {
		withISA(t, isa, func() {
			if a := testing.AllocsPerRun(10, func() {
				ExpInPlace(x)
				SiLU(x)
				SiLUMul(x, g)
				ReLU2(x)
				SoftmaxInPlace(x)
				_ = LogSumExp(x)
			}); a != 0 {
				t.Errorf("%v: %v allocations", isa, a)
			}
		})
	}
}
