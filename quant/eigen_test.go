package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// SymmetricEigen agrees with gonum's EigenSym on the eigenvalues, and its
// eigenvectors are orthonormal and satisfy A·v = λ·v.
func TestSymmetricEigen(t *testing.T) {
	rng := rand.New(rand.NewPCG(70, 71))
	for _, n := range []int{1, 2, 7, 64, 300} {
		a := make([]float64, n*n)
		sym := mat.NewSymDense(n, nil)
		for i := 0; i < n; i++ {
			for j := 0; j <= i; j++ {
				v := rng.NormFloat64()
				if n == 64 && j < i-1 {
					v = 0 // already tridiagonal
				}
				a[i*n+j], a[j*n+i] = v, v
				sym.SetSym(i, j, v)
			}
		}
		if n == 7 { // a repeated eigenvalue: A = I except one entry
			for i := range a {
				a[i] = 0
			}
			for i := 0; i < n; i++ {
				a[i*n+i] = 1
				sym.SetSym(i, i, 1)
				for j := 0; j < i; j++ {
					sym.SetSym(i, j, 0)
				}
			}
			a[3*n+3] = 5
			sym.SetSym(3, 3, 5)
		}
		orig := append([]float64(nil), a...)
		vals, vecs, err := SymmetricEigen(a, n)
		if err != nil {
			t.Fatal(err)
		}
		var ref mat.EigenSym
		if !ref.Factorize(sym, false) {
			t.Fatal("gonum EigenSym failed")
		}
		want := ref.Values(nil) // ascending
		var norm float64
		for _, v := range want {
			norm = math.Max(norm, math.Abs(v))
		}
		for i := range vals {
			if i > 0 && vals[i] > vals[i-1] {
				t.Fatalf("n %d: eigenvalues not decreasing: %v", n, vals)
			}
			if d := math.Abs(vals[i] - want[n-1-i]); d > 1e-10*norm {
				t.Fatalf("n %d: eigenvalue %d = %v, gonum %v", n, i, vals[i], want[n-1-i])
			}
		}
		if e := maxOrthogonalityError(vecs, n); e > 1e-10 {
			t.Errorf("n %d: eigenvectors not orthonormal: %g", n, e)
		}
		for i := 0; i < n; i++ {
			v := vecs[i*n : (i+1)*n]
			for r := 0; r < n; r++ {
				var av float64
				for c := 0; c < n; c++ {
					av += orig[r*n+c] * v[c]
				}
				if d := math.Abs(av - vals[i]*v[r]); d > 1e-9*norm {
					t.Fatalf("n %d: (A·v - λ·v)[%d] = %g for eigenpair %d", n, r, d, i)
				}
			}
		}
	}
}

func BenchmarkSymmetricEigen1280(b *testing.B) {
	rng := rand.New(rand.NewPCG(72, 73))
	n := 1280
	a := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			v := rng.NormFloat64()
			a[i*n+j], a[j*n+i] = v, v
		}
	}
	for i := 0; i < b.N; i++ {
		if _, _, err := SymmetricEigen(append([]float64(nil), a...), n); err != nil {
			b.Fatal(err)
		}
	}
}
