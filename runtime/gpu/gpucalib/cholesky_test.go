package gpucalib

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hyquant/hyquant/quant"
)

// The device's recursive Cholesky inverse equals float64 LAPACK over the
// whole matrix (quant.CholeskyInverseBlock with no recursion) to 1e-10 of
// the largest entry, through three levels of splits and odd orders, with
// zeros kept above the diagonal; a matrix that is not positive definite is
// reported as such, and small ones are left to the host.
func TestGPUCholeskyInverse(t *testing.T) {
	dev := open(t)
	defer dev.Close()
	p := &products{dev: dev}
	rng := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{129, 700} {
		// A = XᵀX/r + I of correlated columns: positive definite, far from diagonal.
		r := 2 * n
		x := make([]float64, r*n)
		for i := range x {
			x[i] = rng.NormFloat64()
			if i%n > 0 {
				x[i] += 0.7 * x[i-1]
			}
		}
		lower := make([]float64, n*n)
		for i := 0; i < n; i++ {
			for j := 0; j <= i; j++ {
				var s float64
				for k := 0; k < r; k++ {
					s += x[k*n+i] * x[k*n+j]
				}
				lower[i*n+j] = s / float64(r)
			}
			lower[i*n+i]++
		}
		want := append([]float64(nil), lower...)
		if !quant.CholeskyInverseBlock(want, n, n) {
			t.Fatalf("n %d: LAPACK found the test matrix not positive definite", n)
		}
		got := append([]float64(nil), lower...)
		done, ok, err := p.InverseCholesky(got, n, 128)
		if err != nil || !done || !ok {
			t.Fatalf("n %d: done %v, ok %v, %v", n, done, ok, err)
		}
		var scale float64
		for _, v := range want {
			scale = max(scale, math.Abs(v))
		}
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				g, w := got[i*n+j], want[i*n+j]
				if j > i && g != 0 {
					t.Fatalf("n %d: L⁻¹[%d][%d] = %v above the diagonal", n, i, j, g)
				}
				if math.Abs(g-w) > 1e-10*scale {
					t.Fatalf("n %d: L⁻¹[%d][%d] = %v on the device, %v by LAPACK (largest entry %v)", n, i, j, g, w, scale)
				}
			}
		}
	}
	// Not positive definite: a negative pivot in the second half.
	n := 300
	bad := make([]float64, n*n)
	for i := 0; i < n; i++ {
		bad[i*n+i] = 1
	}
	bad[250*n+250] = -1
	if done, ok, err := p.InverseCholesky(bad, n, 128); err != nil || !done || ok {
		t.Errorf("a matrix with a negative pivot: done %v, ok %v, %v; want done and not ok", done, ok, err)
	}
	small := &products{dev: dev, minMACs: deviceMinMACs}
	if done, _, err := small.InverseCholesky(make([]float64, 200*200), 200, 128); done || err != nil {
		t.Errorf("a 200×200 inverse ran on the device (%v, %v)", done, err)
	}
}
