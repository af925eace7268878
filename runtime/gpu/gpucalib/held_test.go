package gpucalib

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// GPTQ's weights held on the device: Columns hands out exactly what was
// held, and each Update is W[:, i2:] −= E·U[i1:i2, i2:] in float64 (to
// 1e-12 of Σ|e·u| per entry, against the host's float64 sums), for odd
// shapes and a last block narrower than the rest. Small runs stay on the
// host.
func TestGPUHeldWeights(t *testing.T) {
	dev := open(t)
	defer dev.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	rows, n := 300, 520
	w, u := make([]float64, rows*n), make([]float64, n*n)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			u[i*n+j] = rng.NormFloat64()
		}
	}
	want := append([]float64(nil), w...)
	abs := make([]float64, rows*n)
	p := &products{dev: dev}
	h, err := p.Hold(w, u, rows, n)
	if err != nil {
		t.Fatal(err)
	}
	if h == nil {
		t.Fatal("a product threshold of 0 left the weights on the host")
	}
	defer h.Release()
	for _, b := range [][2]int{{0, 128}, {128, 256}, {256, 384}, {384, 512}, {512, 520}} {
		i1, i2 := b[0], b[1]
		bw := i2 - i1
		got := make([]float64, rows*bw)
		if err := h.Columns(got, i1, i2); err != nil {
			t.Fatal(err)
		}
		for r := 0; r < rows; r++ {
			for c := 0; c < bw; c++ {
				g, x := got[r*bw+c], want[r*n+i1+c]
				if math.Abs(g-x) > 1e-12*abs[r*n+i1+c]+1e-300 {
					t.Fatalf("columns %d-%d: W[%d][%d] = %v on the device, %v on the host (Σ|e·u| %v)", i1, i2-1, r, i1+c, g, x, abs[r*n+i1+c])
				}
			}
		}
		errs := make([]float64, rows*bw)
		for i := range errs {
			errs[i] = rng.NormFloat64()
		}
		if err := h.Update(errs, i1, i2); err != nil {
			t.Fatal(err)
		}
		for r := 0; r < rows; r++ {
			for i := 0; i < bw; i++ {
				e := errs[r*bw+i]
				for j := i2; j < n; j++ {
					want[r*n+j] -= e * u[(i1+i)*n+j]
					abs[r*n+j] += math.Abs(e * u[(i1+i)*n+j])
				}
			}
		}
	}
	small := &products{dev: dev, minMACs: deviceMinMACs}
	if h, err := small.Hold(w[:16*64], u[:64*64], 16, 64); h != nil || err != nil {
		t.Errorf("a 16×64 run was held on the device (%v, %v)", h, err)
	}
}

// GPTQ with its weights held on the device rounds as well as on the host:
// its codes differ where float32 and float64 updates round differently
// (GPTQ is chaotic), so the layer's reconstruction loss tr((W−Q)·H·(W−Q)ᵀ)
// is compared, within 1%, and most codes agree.
func TestGPUHeldGPTQ(t *testing.T) {
	dev := open(t)
	defer dev.Close()
	rng := rand.New(rand.NewPCG(7, 8))
	rows, n := 256, 640
	w := make([]float64, rows*n)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	// H = XᵀX of correlated inputs of uneven scale.
	x := make([]float64, 2*n*n)
	mix := make([]float64, n)
	for r := 0; r < 2*n; r++ {
		for j := range mix {
			mix[j] = rng.NormFloat64()
		}
		for j := 0; j < n; j++ {
			x[r*n+j] = (mix[j] + 0.5*mix[(j+1)%n]) * (1 + float64(j%7))
		}
	}
	h := make([]float64, n*n)
	for r := 0; r < 2*n; r++ {
		xr := x[r*n : (r+1)*n]
		for i, a := range xr {
			for j, b := range xr {
				h[i*n+j] += a * b
			}
		}
	}
	g := grid.Grid{Rows: rows, Cols: n, Granularity: grid.Granularity{Kind: grid.PerGroup, GroupSize: 128}}
	sc := grid.Scheme{Bits: 4, Symmetric: true, ScaleDType: safetensors.F16}
	loss := func(p quant.Products) (float64, []uint8) {
		q, err := quant.RoundGPTQ(append([]float64(nil), w...), append([]float64(nil), h...), g, sc, quant.GPTQOptions{Products: p}, "held")
		if err != nil {
			t.Fatal(err)
		}
		dq := q.Dequantize()
		var l float64
		d := make([]float64, n)
		for r := 0; r < rows; r++ {
			for j := range d {
				d[j] = w[r*n+j] - float64(dq[r*n+j])
			}
			for i, a := range d {
				var s float64
				for j, b := range d {
					s += h[i*n+j] * b
				}
				l += a * s
			}
		}
		return l, q.Codes
	}
	p := &products{dev: dev}
	defer p.close()
	host, hostCodes := loss(nil)
	got, codes := loss(p)
	same := 0
	for i := range codes {
		if codes[i] == hostCodes[i] {
			same++
		}
	}
	t.Logf("reconstruction loss: %.6g held on the device, %.6g on the host; %.1f%% of code bytes equal", got, host, 100*float64(same)/float64(len(codes)))
	if math.Abs(got-host) > 0.01*host {
		t.Errorf("reconstruction loss %v with the weights on the device, %v on the host", got, host)
	}
	if same < len(codes)/2 {
		t.Errorf("only %d of %d code bytes equal the host's", same, len(codes))
	}
}
