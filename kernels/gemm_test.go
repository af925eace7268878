package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// unitRoundoff is u = 2⁻²⁴, the relative rounding error of float32.
const unitRoundoff = 1.0 / (1 << 24)

// isas lists every instruction-set level this machine can run, slowest
// first, so each assembly path is tested against the portable one.
func isas() []ISA {
	var l []ISA
	for i := Portable; i <= BestISA(); i++ {
		if microKernels[i] != nil {
			l = append(l, i)
		}
	}
	return l
}

// withISA runs f at level isa and restores the previous level.
func withISA(t testing.TB, isa ISA, f func()) {
	prev := SetISA(isa)
	defer SetISA(prev)
	if CurrentISA() != isa {
		t.Fatalf("SetISA(%v) left %v", isa, CurrentISA())
	}
	f()
}

func randFloats(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// randInts returns small integers as floats: every product and partial sum
// of a GEMM on them is exact in float32, so results must match exactly.
func randInts(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.IntN(7) - 3)
	}
	return s
}

// naiveNT is C = A·Bᵀ in float64 with, per element, Σ|a||b| for error bounds.
func naiveNT(a, b []float32, m, n, k int) (c, abs []float64) {
	c = make([]float64, m*n)
	abs = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, t float64
			for p := 0; p < k; p++ {
				x := float64(a[i*k+p]) * float64(b[j*k+p])
				s += x
				t += math.Abs(x)
			}
			c[i*n+j], abs[i*n+j] = s, t
		}
	}
	return c, abs
}

// checkClose fails t when some |got-want| exceeds the worst-case bound of a
// float32 dot product of length k in any summation order (Higham, Accuracy
// and Stability of Numerical Algorithms, §3.1): γ(k)·Σ|a||b| with
// γ(k) = k·u/(1-k·u), u = 2⁻²⁴ (two extra units for the bias add and the
// final rounding).
func checkClose(t *testing.T, name string, got []float32, want, abs []float64, k int) {
	t.Helper()
	kk := float64(k + 2)
	gamma := kk * unitRoundoff / (1 - kk*unitRoundoff)
	bad := 0
	for i, w := range want {
		tol := gamma*abs[i] + 1e-30
		if d := math.Abs(float64(got[i]) - w); !(d <= tol) {
			if bad < 5 {
				t.Errorf("%s: element %d = %g, want %g (|diff| %.3g > bound %.3g)", name, i, got[i], w, d, tol)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements outside the float32 error bound", name, bad, len(want))
	}
}

func checkExact(t *testing.T, name string, got []float32, want []float64) {
	t.Helper()
	bad := 0
	for i, w := range want {
		if float64(got[i]) != w {
			if bad < 5 {
				t.Errorf("%s: element %d = %g, want exactly %g", name, i, got[i], w)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements wrong", name, bad, len(want))
	}
}

// gemmShapes are m, n, k triples covering edge cases of every blocking
// level: sizes 1, odd sizes, partial micro-tiles in m (mr = 4 or 6) and n
// (nr = 4, 16 or 64), several kc slices (kc = 256, or up to 2048 when a
// goroutine has at most smallMRows rows), several nc blocks, and sizes large
// enough to run on several goroutines.
var gemmShapes = [][3]int{
	{1, 1, 1}, {1, 1, 3}, {1, 17, 3}, {2, 3, 1}, {3, 5, 7}, {6, 64, 16},
	{7, 65, 17}, {33, 17, 5}, {5, 33, 257}, {12, 128, 256}, {13, 129, 513},
	{1, 300, 1544}, {7, 64, 1544}, {33, 100, 1544}, {64, 1, 70}, {300, 3, 40},
	{97, 1100, 300}, {40, 2100, 64}, {257, 63, 129}, {1024, 64, 64},
	{1, 130, 4100}, {3, 70, 2500}, {129, 65, 600},
}

func TestMatMulNT(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, isa := range isas() {
		for _, s := range gemmShapes {
			m, n, k := s[0], s[1], s[2]
			name := fmt.Sprintf("%v/%dx%dx%d", isa, m, n, k)
			withISA(t, isa, func() {
				a, b := randFloats(rng, m*k), randFloats(rng, n*k)
				c := randFloats(rng, m*n) // garbage that must be overwritten
				MatMulNT(c, a, b, m, n, k)
				want, abs := naiveNT(a, b, m, n, k)
				checkClose(t, name, c, want, abs, k)

				a, b = randInts(rng, m*k), randInts(rng, n*k)
				MatMulNT(c, a, b, m, n, k)
				want, _ = naiveNT(a, b, m, n, k)
				checkExact(t, name+"/ints", c, want)
			})
		}
	}
}

func transpose(b []float32, rows, cols int) []float32 {
	t := make([]float32, len(b))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			t[j*rows+i] = b[i*cols+j]
		}
	}
	return t
}

func TestMatMulNN(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, isa := range isas() {
		for _, s := range gemmShapes {
			m, n, k := s[0], s[1], s[2]
			name := fmt.Sprintf("%v/%dx%dx%d", isa, m, n, k)
			withISA(t, isa, func() {
				a, bt := randFloats(rng, m*k), randFloats(rng, n*k) // bt is n×k
				c := randFloats(rng, m*n)
				MatMulNN(c, a, transpose(bt, n, k), m, n, k)
				want, abs := naiveNT(a, bt, m, n, k)
				checkClose(t, name, c, want, abs, k)

				a, bt = randInts(rng, m*k), randInts(rng, n*k)
				MatMulNN(c, a, transpose(bt, n, k), m, n, k)
				want, _ = naiveNT(a, bt, m, n, k)
				checkExact(t, name+"/ints", c, want)
			})
		}
	}
}

// TestGemmThreads checks that every way of splitting C over goroutines
// computes the same exact result as one goroutine.
func TestGemmThreads(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	defer SetThreads(SetThreads(0))
	for _, s := range [][3]int{{200, 700, 300}, {1000, 70, 300}, {5, 3000, 100}, {31, 31, 600}} {
		m, n, k := s[0], s[1], s[2]
		a, b := randInts(rng, m*k), randInts(rng, n*k)
		want, _ := naiveNT(a, b, m, n, k)
		for _, th := range []int{1, 2, 3, 4, 7} {
			SetThreads(th)
			for _, isa := range isas() {
				withISA(t, isa, func() {
					c := make([]float32, m*n)
					MatMulNT(c, a, b, m, n, k)
					checkExact(t, fmt.Sprintf("%v/threads=%d/%dx%dx%d", isa, th, m, n, k), c, want)
				})
			}
		}
	}
}

// TestThreadsDeterministic checks the documented guarantee that the bits of
// a result do not depend on how many goroutines computed it.
func TestThreadsDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	defer SetThreads(SetThreads(0))
	for _, s := range [][3]int{{100, 300, 2000}, {200, 64, 700}, {7, 1000, 3000}} {
		m, n, k := s[0], s[1], s[2]
		a, b := randFloats(rng, m*k), randFloats(rng, n*k)
		for _, isa := range isas() {
			withISA(t, isa, func() {
				SetThreads(1)
				want := make([]float32, m*n)
				MatMulNT(want, a, b, m, n, k)
				for _, th := range []int{2, 3, 5} {
					SetThreads(th)
					c := make([]float32, m*n)
					MatMulNT(c, a, b, m, n, k)
					for i := range c {
						if math.Float32bits(c[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%v %dx%dx%d: threads=%d gives element %d = %g, one thread %g", isa, m, n, k, th, i, c[i], want[i])
						}
					}
				}
			})
		}
	}
}

// TestMicroKernels runs each micro-kernel directly on random operands, with
// and without accumulation, against float64 arithmetic, and checks it
// writes nothing outside its tile.
func TestMicroKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, isa := range isas() {
		mk := microKernels[isa]
		for _, kc := range []int{0, 1, 2, 3, 17, 256} {
			for _, acc := range []int{0, 1} {
				lda := kc + 5
				a, b := randFloats(rng, mk.mr*lda), randFloats(rng, kc*mk.nr)
				ldc := mk.nr + 3
				c := randFloats(rng, mk.mr*ldc)
				c0 := append([]float32(nil), c...)
				var ap, bp *float32
				ap = &a[0]
				if kc > 0 {
					bp = &b[0]
				} else {
					bp = new(float32)
				}
				mk.fn(kc, ap, lda, bp, &c[0], ldc, acc)
				for r := 0; r < mk.mr; r++ {
					for j := 0; j < ldc; j++ {
						got := c[r*ldc+j]
						if j >= mk.nr {
							if got != c0[r*ldc+j] {
								t.Fatalf("%v kc=%d: wrote outside the tile at (%d,%d)", isa, kc, r, j)
							}
							continue
						}
						var want, abs float64
						if acc != 0 {
							want, abs = float64(c0[r*ldc+j]), math.Abs(float64(c0[r*ldc+j]))
						}
						for p := 0; p < kc; p++ {
							x := float64(a[r*lda+p]) * float64(b[p*mk.nr+j])
							want += x
							abs += math.Abs(x)
						}
						tol := float64(kc+2) * unitRoundoff * abs
						if d := math.Abs(float64(got) - want); d > tol {
							t.Fatalf("%v kc=%d acc=%d: C[%d][%d] = %g, want %g", isa, kc, acc, r, j, got, want)
						}
					}
				}
			}
		}
	}
}

func TestMatMulPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("MatMulNT with a short C did not panic")
		}
	}()
	MatMulNT(make([]float32, 5), make([]float32, 6), make([]float32, 9), 2, 3, 3)
}
