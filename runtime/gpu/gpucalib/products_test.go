package gpucalib

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hyquant/hyquant/quant"
)

// The device's products equal the host's within float32 rounding (of the
// sum of |a·b| over each dot product), for both layouts, odd shapes, and
// buffers reused across shapes; products below the threshold stay on the
// host, bit for bit.
func TestGPUProducts(t *testing.T) {
	dev := open(t)
	defer dev.Close()
	p := &products{dev: dev}
	defer p.close()
	rng := rand.New(rand.NewPCG(3, 4))
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	for _, sh := range [][3]int{{300, 200, 150}, {17, 1029, 64}, {512, 512, 512}, {1, 3, 5}} {
		m, n, k := sh[0], sh[1], sh[2]
		a, b := fill(m*k), fill(n*k)
		for _, nt := range []bool{true, false} {
			got, want := make([]float32, m*n), make([]float32, m*n)
			var err error
			if nt {
				err = p.MatMulNT(got, a, b, m, n, k)
				quant.HostProducts{}.MatMulNT(want, a, b, m, n, k)
			} else {
				err = p.MatMulNN(got, a, b, m, n, k)
				quant.HostProducts{}.MatMulNN(want, a, b, m, n, k)
			}
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var abs float64
					for l := 0; l < k; l++ {
						bv := b[j*k+l] // NT: B is n×k
						if !nt {
							bv = b[l*n+j] // NN: B is k×n
						}
						abs += math.Abs(float64(a[i*k+l]) * float64(bv))
					}
					if d := math.Abs(float64(got[i*n+j] - want[i*n+j])); d > 1e-6*abs+1e-30 {
						t.Fatalf("%v nt=%v: C[%d][%d] = %v on the device, %v on the host (sum |a·b| %v)", sh, nt, i, j, got[i*n+j], want[i*n+j], abs)
					}
				}
			}
		}
	}
	small := &products{dev: dev, minMACs: deviceMinMACs}
	a, b := fill(64*64), fill(64*64)
	got, want := make([]float32, 64*64), make([]float32, 64*64)
	if err := small.MatMulNN(got, a, b, 64, 64, 64); err != nil {
		t.Fatal(err)
	}
	quant.HostProducts{}.MatMulNN(want, a, b, 64, 64, 64)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("a small product left the host: C[%d] %v, host %v", i, got[i], want[i])
		}
	}
	if small.a.Bytes != 0 {
		t.Errorf("a small product allocated %d device bytes", small.a.Bytes)
	}
}
