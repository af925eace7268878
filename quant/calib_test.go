package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/runtime"
)

const miniModel = "../models/nemotron-h-mini"

// statsObserver accumulates Stats (XᵀX, Sum, AbsMax) for every linear
// layer it sees. XᵀX of each call is one float32 GEMM, added into float64.
type statsObserver struct {
	stats map[string]*Stats
	xt    []float32 // scratch: the transposed input
	xtx   []float32 // scratch: one call's XᵀX
}

func newStatsObserver() *statsObserver { return &statsObserver{stats: map[string]*Stats{}} }

func (o *statsObserver) ObserveLinearInput(name string, x []float32, rows, cols int) {
	st := o.stats[name]
	if st == nil {
		st = NewStats(name, cols)
		o.stats[name] = st
	}
	if cap(o.xt) < rows*cols {
		o.xt = make([]float32, rows*cols)
	}
	if cap(o.xtx) < cols*cols {
		o.xtx = make([]float32, cols*cols)
	}
	xt, xtx := o.xt[:rows*cols], o.xtx[:cols*cols]
	for r := 0; r < rows; r++ {
		for c, v := range x[r*cols : (r+1)*cols] {
			xt[c*rows+r] = v
			st.Sum[c] += float64(v)
			st.AbsMax[c] = max(st.AbsMax[c], float32(math.Abs(float64(v))))
		}
	}
	kernels.MatMulNT(xtx, xt, xt, cols, cols, rows)
	for i, v := range xtx {
		st.XtX[i] += float64(v)
	}
	st.Rows += int64(rows)
}

// calibrationSegments cuts n seeded random windows of length tokens from
// the embedded held-out calibration text.
func calibrationSegments(l *runtime.Loaded, n, tokens int) ([][]int, error) {
	ids := l.Tokenizer.Encode(datasets.MustEmbedded(datasets.PublicDomainHeldout).Body)
	if len(ids) < tokens+1 {
		return nil, fmt.Errorf("calibration text has %d tokens, need %d", len(ids), tokens)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	segs := make([][]int, n)
	for i := range segs {
		o := rng.IntN(len(ids) - tokens)
		segs[i] = ids[o : o+tokens]
	}
	return segs, nil
}

// miniCalibration is the mini model's per-layer Stats over 8 segments of
// 256 tokens, with the float weights of every linear layer, computed once
// per test binary on a model load of its own.
var miniCalibration = sync.OnceValues(func() (map[string]*Stats, error) {
	l, err := runtime.OpenModel(miniModel, runtime.WeightsFloat32)
	if err != nil {
		return nil, err
	}
	defer l.Close()
	obs := newStatsObserver()
	l.Model.Observer = obs
	segs, err := calibrationSegments(l, 8, 256)
	if err != nil {
		return nil, err
	}
	for _, seg := range segs {
		if _, err := l.Model.Logits(seg); err != nil {
			return nil, err
		}
	}
	return obs.stats, nil
})

func openMini(t testing.TB) *runtime.Loaded {
	t.Helper()
	l, err := runtime.OpenModel(miniModel, runtime.WeightsFloat32)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// denseWeights returns a float slot's weights (the mini loads as Dense).
func denseWeights(t testing.TB, s runtime.LinearSlot) []float32 {
	t.Helper()
	d, ok := (*s.Ptr).(*kernels.Dense)
	if !ok {
		t.Fatalf("%s is a %T, want *kernels.Dense", s.Name, *s.Ptr)
	}
	return d.Weights()
}

// outputError is ||W·X − Q·X||² over the calibration inputs, computed from
// the statistics as tr((W−Q)·XᵀX·(W−Q)ᵀ) = Σ (W−Q) ∘ ((W−Q)·XᵀX): one float32
// GEMM, summed in float64.
func outputError(w, q []float32, rows, cols int, xtx []float64) float64 {
	d := make([]float32, rows*cols)
	for i := range d {
		d[i] = w[i] - q[i]
	}
	g := make([]float32, cols*cols)
	for i, v := range xtx {
		g[i] = float32(v)
	}
	dg := make([]float32, rows*cols)
	kernels.MatMulNN(dg, d, g, rows, cols, cols)
	var total float64
	for i, v := range d {
		total += float64(v) * float64(dg[i])
	}
	return total
}
