package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveHadamard is H·x/√n in float64 from H[i][j] = (−1)^popcount(i&j).
func naiveHadamard(x []float32) []float64 {
	n := len(x)
	y := make([]float64, n)
	s := 1 / math.Sqrt(float64(n))
	for i := range y {
		for j, v := range x {
			if parity(i & j) {
				y[i] -= float64(v)
			} else {
				y[i] += float64(v)
			}
		}
		y[i] *= s
	}
	return y
}

// fwhtTol bounds the error of a float32 FWHT of x: each output is reached
// through log₂n rounded additions and a rounded scaling of partial sums
// bounded by Σ|x|.
func fwhtTol(x []float32) float64 {
	var sum float64
	for _, v := range x {
		sum += math.Abs(float64(v))
	}
	n := float64(len(x))
	return (math.Log2(n) + 2) * unitRoundoff * sum / math.Sqrt(n)
}

func TestFWHTNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, isa := range isas() {
		for n := 1; n <= 2048; n *= 2 {
			withISA(t, isa, func() {
				x := randFloats(rng, n)
				want := naiveHadamard(x)
				tol := fwhtTol(x)
				FWHT(x)
				for i, w := range want {
					if d := math.Abs(float64(x[i]) - w); d > tol {
						t.Fatalf("%v n=%d: y[%d] = %g, want %g (tol %.3g)", isa, n, i, x[i], w, tol)
					}
				}
			})
		}
	}
}

// TestFWHTOrthonormal builds the transform's matrix from the images of the
// unit vectors and checks H·Hᵀ = I and that it equals Hadamard(n).
func TestFWHTOrthonormal(t *testing.T) {
	for _, isa := range isas() {
		for n := 1; n <= 256; n *= 2 {
			withISA(t, isa, func() {
				cols := make([][]float32, n)
				for j := range cols {
					cols[j] = make([]float32, n)
					cols[j][j] = 1
					FWHT(cols[j])
				}
				h := Hadamard(n)
				for i := 0; i < n; i++ {
					for j := 0; j < n; j++ {
						if cols[j][i] != h[i*n+j] {
							t.Fatalf("%v n=%d: FWHT(e_%d)[%d] = %g, Hadamard has %g", isa, n, j, i, cols[j][i], h[i*n+j])
						}
						var dot float64
						for k := 0; k < n; k++ {
							dot += float64(cols[i][k]) * float64(cols[j][k])
						}
						want := 0.0
						if i == j {
							want = 1
						}
						if math.Abs(dot-want) > 1e-6 {
							t.Fatalf("%v n=%d: (H·Hᵀ)[%d][%d] = %g, want %g", isa, n, i, j, dot, want)
						}
					}
				}
			})
		}
	}
}

func TestFWHTInvolution(t *testing.T) {
	rng := rand.New(rand.NewPCG(33, 34))
	for _, isa := range isas() {
		for _, n := range []int{2, 16, 32, 1024, 4096, 1 << 15} {
			withISA(t, isa, func() {
				x := randFloats(rng, n)
				y := append([]float32(nil), x...)
				FWHT(y)
				FWHT(y)
				tol := 2 * fwhtTol(x) * math.Sqrt(float64(n))
				for i := range x {
					if d := math.Abs(float64(y[i] - x[i])); d > tol {
						t.Fatalf("%v n=%d: FWHT(FWHT(x))[%d] = %g, want %g", isa, n, i, y[i], x[i])
					}
				}
			})
		}
	}
}

// TestFWHTAsmMatchesGo checks that the vectorised transforms perform the
// very same additions as the portable one: results are bitwise equal.
func TestFWHTAsmMatchesGo(t *testing.T) {
	if BestISA() < AVX2 {
		t.Skip("no assembly transform")
	}
	rng := rand.New(rand.NewPCG(35, 36))
	for _, isa := range isas()[1:] {
		withISA(t, isa, func() {
			for n := 8; n <= 1<<16; n *= 2 {
				x := randFloats(rng, n)
				y := append([]float32(nil), x...)
				scale := float32(1 / math.Sqrt(float64(n)))
				fwhtGo(x, scale)
				if !fwhtAsm(y, scale) {
					if isa == AVX512 && n == 8 {
						continue // one AVX-512 register is 16 floats
					}
					t.Fatalf("%v n=%d: fwhtAsm declined", isa, n)
				}
				for i := range x {
					if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
						t.Fatalf("%v n=%d: element %d: asm %g, Go %g", isa, n, i, y[i], x[i])
					}
				}
			}
		})
	}
}

func TestFWHTRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(37, 38))
	for _, s := range [][2]int{{1, 1}, {3, 8}, {5, 64}, {300, 1024}, {17, 8192}} {
		rows, n := s[0], s[1]
		x := randFloats(rng, rows*n)
		want := append([]float32(nil), x...)
		for r := 0; r < rows; r++ {
			FWHT(want[r*n : (r+1)*n])
		}
		FWHTRows(x, rows, n)
		for i := range x {
			if x[i] != want[i] {
				t.Fatalf("%dx%d: element %d = %g, want %g", rows, n, i, x[i], want[i])
			}
		}
	}
}

func TestHadamardBlockSize(t *testing.T) {
	for n, want := range map[int]int{0: 0, -4: 0, 1: 1, 7: 1, 8: 8, 256: 256, 1280: 256, 1544: 8, 21504: 1024,
		4096: 4096, 17504: 32, 131072: 131072} {
		if got := HadamardBlockSize(n); got != want {
			t.Errorf("HadamardBlockSize(%d) = %d, want %d", n, got, want)
		}
	}
}

func TestFWHTPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"FWHT 12":        func() { FWHT(make([]float32, 12)) },
		"FWHTRows n=6":   func() { FWHTRows(make([]float32, 12), 2, 6) },
		"FWHTRows short": func() { FWHTRows(make([]float32, 12), 2, 8) },
		"Hadamard 0":     func() { Hadamard(0) },
		"Hadamard 24":    func() { Hadamard(24) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}

func BenchmarkFWHT(b *testing.B) {
	rng := rand.New(rand.NewPCG(39, 40))
	for _, n := range []int{256, 1024, 4096, 16384} {
		for _, isa := range isas() {
			b.Run(fmt.Sprintf("%v/n=%d", isa, n), func(b *testing.B) {
				withISA(b, isa, func() {
					x := randFloats(rng, n)
					for b.Loop() {
						FWHT(x)
					}
					// n·log₂n additions and n multiplications per transform.
					b.ReportMetric(float64(n)*(math.Log2(float64(n))+1)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			})
		}
	}
}

func BenchmarkFWHTRows(b *testing.B) {
	rng := rand.New(rand.NewPCG(41, 42))
	rows, n := 1024, 1024
	x := randFloats(rng, rows*n)
	for b.Loop() {
		FWHTRows(x, rows, n)
	}
	b.ReportMetric(float64(rows*n)*(math.Log2(float64(n))+1)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
