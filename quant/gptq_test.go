package quant

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

func randomMatrix(rng *rand.Rand, rows, cols int) []float32 {
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	return w
}

// correlatedStats returns statistics of n inputs of width cols whose
// channels are correlated and of uneven scale, so that H is far from
// diagonal, plus the inputs.
func correlatedStats(rng *rand.Rand, n, cols int) *Stats {
	mix := randomMatrix(rng, cols, cols)
	st := NewStats("synthetic", cols)
	z := make([]float64, cols)
	x := make([]float64, cols)
	for r := 0; r < n; r++ {
		for i := range z {
			z[i] = rng.NormFloat64()
		}
		for i := range x {
			var v float64
			for j := 0; j < cols; j++ {
				v += float64(mix[i*cols+j]) * z[j]
			}
			x[i] = v * (1 + 3*float64(i%5))
		}
		for i, xi := range x {
			st.Sum[i] += xi
			st.AbsMax[i] = max(st.AbsMax[i], float32(math.Abs(xi)))
			for j, xj := range x {
				st.XtX[i*cols+j] += xi * xj
			}
		}
		st.Rows++
	}
	return st
}

func gptqAssignment(rows, cols, bits int, g grid.Granularity, sym bool, opts GPTQOptions) Assignment {
	a := rtnAssignment(rows, cols, bits, g, sym, safetensors.F16)
	a.Spec.Method = "gptq"
	a.Spec.Damp, a.Spec.ActOrder, a.Spec.StaticGroups, a.Spec.BlockSize = opts.Damp, opts.ActOrder, opts.StaticGroups, opts.BlockSize
	if err := (GPTQ{}).Prepare(&a.Spec); err != nil {
		panic(err)
	}
	return a
}

// With H = I no rounding error is propagated (U is diagonal), so GPTQ must
// produce RTN's codes, scales and zero points bit for bit.
func TestGPTQIdentityHessianEqualsRTN(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	rows, cols := 12, 64
	w := randomMatrix(rng, rows, cols)
	st := NewStats("identity", cols)
	st.Rows = 2 // H = 2/2·XᵀX = I
	for i := 0; i < cols; i++ {
		st.XtX[i*cols+i] = 1
		st.AbsMax[i] = 1
	}
	for _, bits := range []int{3, 4, 8} {
		for _, sym := range []bool{true, false} {
			for _, g := range []grid.Granularity{perTensor, perChannel, group(16)} {
				for _, o := range []GPTQOptions{{BlockSize: 128}, {BlockSize: 8}, {BlockSize: 5}, {ActOrder: true, StaticGroups: true}} {
					a := gptqAssignment(rows, cols, bits, g, sym, o)
					got, err := GPTQ{}.Quantize(w, a, st)
					if err != nil {
						t.Fatal(err)
					}
					want := mustRTN(t, w, rtnAssignment(rows, cols, bits, g, sym, safetensors.F16))
					if !slices.Equal(got.Q.Codes, want.Codes) || !slices.Equal(got.Q.Scales, want.Scales) || !slices.Equal(got.Q.Zeros, want.Zeros) {
						t.Fatalf("bits %d sym %v %s %+v: GPTQ with H = I differs from RTN", bits, sym, g, o)
					}
				}
			}
		}
	}
}

// Inputs that are always zero leave their weights unconstrained: GPTQ zeroes
// them (no NaN from the singular Hessian) and still beats RTN on the rest.
func TestGPTQDeadColumns(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	rows, cols := 16, 32
	w := randomMatrix(rng, rows, cols)
	st := correlatedStats(rng, 200, cols)
	dead := []int{0, 7, 31}
	for _, d := range dead {
		for j := 0; j < cols; j++ {
			st.XtX[d*cols+j], st.XtX[j*cols+d] = 0, 0
		}
		st.Sum[d], st.AbsMax[d] = 0, 0
	}
	for _, o := range []GPTQOptions{{}, {ActOrder: true}} {
		for _, sym := range []bool{true, false} {
			a := gptqAssignment(rows, cols, 4, group(8), sym, GPTQOptions{ActOrder: o.ActOrder, StaticGroups: o.ActOrder})
			q, err := GPTQ{}.Quantize(w, a, st)
			if err != nil {
				t.Fatal(err)
			}
			deq := q.Q.Dequantize()
			for i, v := range deq {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("dequantised weight %d is %v", i, v)
				}
			}
			for r := 0; r < rows; r++ {
				for _, d := range dead {
					if deq[r*cols+d] != 0 {
						t.Errorf("act_order %v sym %v: dead column %d of row %d dequantises to %v, want 0", o.ActOrder, sym, d, r, deq[r*cols+d])
					}
				}
			}
			rtn := mustRTN(t, w, rtnAssignment(rows, cols, 4, group(8), sym, safetensors.F16)).Dequantize()
			if eg, er := outputError(w, deq, rows, cols, st.XtX), outputError(w, rtn, rows, cols, st.XtX); eg >= er {
				t.Errorf("act_order %v sym %v: GPTQ error %g is not below RTN's %g", o.ActOrder, sym, eg, er)
			}
		}
	}
}

// On correlated inputs every option combination lowers ||WX − QX||².
func TestGPTQBeatsRTNSynthetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	rows, cols := 48, 96
	w := randomMatrix(rng, rows, cols)
	st := correlatedStats(rng, 400, cols)
	for _, g := range []grid.Granularity{perChannel, group(32)} {
		for _, o := range []GPTQOptions{{}, {BlockSize: 16}, {ActOrder: true, StaticGroups: true}, {StaticGroups: true}} {
			if o.ActOrder && g.Kind == grid.PerChannel {
				o.StaticGroups = false
			}
			a := gptqAssignment(rows, cols, 3, g, false, o)
			q, err := GPTQ{}.Quantize(w, a, st)
			if err != nil {
				t.Fatal(err)
			}
			rtn := mustRTN(t, w, rtnAssignment(rows, cols, 3, g, false, safetensors.F16)).Dequantize()
			eg, er := outputError(w, q.Q.Dequantize(), rows, cols, st.XtX), outputError(w, rtn, rows, cols, st.XtX)
			if eg >= 0.9*er {
				t.Errorf("%s %+v: GPTQ error %g is not 10%% below RTN's %g", g, o, eg, er)
			}
		}
	}
}

// U from the reversed factorisation is the upper Cholesky factor of the
// damped H⁻¹: UᵀU = (H + λI)⁻¹.
func TestUpperCholeskyOfInverse(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	n := 150                           // > 64: exercises invertLower's recursion
	st := correlatedStats(rng, 100, n) // rank 100 < 150: singular without damping
	h := st.Hessian()
	var mean float64
	for i := 0; i < n; i++ {
		mean += h[i*n+i] / float64(n)
	}
	damped := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			v := h[i*n+j]
			if i == j {
				v += 0.01 * mean
			}
			damped.SetSym(i, j, v)
		}
	}
	var inv mat.Dense
	if err := inv.Inverse(damped); err != nil {
		t.Fatal(err)
	}
	u, err := upperCholeskyOfInverse(append([]float64(nil), h...), n, 0.01, HostProducts{}, "test")
	if err != nil {
		t.Fatal(err)
	}
	um := mat.NewDense(n, n, u)
	var utu mat.Dense
	utu.Mul(um.T(), um)
	for i := 0; i < n; i++ {
		if u[i*n+i] <= 0 {
			t.Fatalf("U[%d][%d] = %v, want positive", i, i, u[i*n+i])
		}
		for j := 0; j < n; j++ {
			if j < i && u[i*n+j] != 0 {
				t.Fatalf("U[%d][%d] = %v below the diagonal", i, j, u[i*n+j])
			}
			// float32 products: float32-level accuracy, relative to the
			// largest entry of H⁻¹.
			if d := math.Abs(utu.At(i, j) - inv.At(i, j)); d > 1e-5*mat.Max(&inv) {
				t.Fatalf("UᵀU[%d][%d] = %v, H⁻¹ = %v", i, j, utu.At(i, j), inv.At(i, j))
			}
		}
	}
	// All in float64 (the fallback path): float64 accuracy.
	l := make([]float64, n*n)
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			l[i*n+j] = damped.At(i, j)
		}
	}
	if ok, err := choleskyInverseLower(l, n, n, n, HostProducts{}); !ok || err != nil {
		t.Fatal("float64 Cholesky failed")
	}
	lm := mat.NewDense(n, n, l)
	var ltl mat.Dense
	ltl.Mul(lm.T(), lm) // (L⁻¹)ᵀ·L⁻¹ = (L·Lᵀ)⁻¹
	if !mat.EqualApprox(&ltl, &inv, 1e-9*mat.Max(&inv)) {
		t.Error("float64 L⁻¹ does not invert the damped Hessian")
	}
	// A Hessian with a NaN never factorises: a clear error naming the layer.
	h[3], h[3*n] = math.NaN(), math.NaN()
	if _, err := upperCholeskyOfInverse(h, n, 0.01, HostProducts{}, "layer.x"); err == nil || !strings.Contains(err.Error(), "layer.x") {
		t.Errorf("NaN Hessian: %v", err)
	}
}

func TestGPTQNeedsStats(t *testing.T) {
	a := gptqAssignment(2, 4, 4, perChannel, true, GPTQOptions{})
	if _, err := (GPTQ{}).Quantize(make([]float32, 8), a, nil); err == nil || !strings.Contains(err.Error(), "calibration") {
		t.Errorf("no stats: %v", err)
	}
	if _, err := (GPTQ{}).Quantize(make([]float32, 8), a, NewStats("x", 4)); err == nil || !strings.Contains(err.Error(), "no rows") {
		t.Errorf("empty stats: %v", err)
	}
}

// The acceptance test: on the real mini model, with statistics from 8×256
// calibration tokens, GPTQ's output error ||WX − QX||² is below RTN's for
// every linear layer at 4 bits and at 3 bits, group 128.
func TestGPTQBeatsRTNOnMini(t *testing.T) {
	stats, err := miniCalibration()
	if err != nil {
		t.Fatal(err)
	}
	l := openMini(t)
	var spent time.Duration
	slots := l.Model.Linears()
	for _, bits := range []int{4, 3} {
		var worst, sumRatio float64
		var rtnTotal, gptqTotal float64
		var table strings.Builder
		for _, s := range slots {
			st := stats[s.Name]
			if st == nil {
				t.Fatalf("no calibration statistics for %s", s.Name)
			}
			w := denseWeights(t, s)
			rows, cols := (*s.Ptr).Out(), (*s.Ptr).In()
			a := gptqAssignment(rows, cols, bits, group(128), true, GPTQOptions{})
			a.Param = runtime.Param{Name: s.Name, Shape: []int{rows, cols}, Matrix: true, Category: s.Category}
			start := time.Now()
			q, err := GPTQ{}.Quantize(w, a, st)
			if err != nil {
				t.Fatal(err)
			}
			spent += time.Since(start)
			rtn := mustRTN(t, w, rtnAssignment(rows, cols, bits, group(128), true, safetensors.F16)).Dequantize()
			eg, er := outputError(w, q.Q.Dequantize(), rows, cols, st.XtX), outputError(w, rtn, rows, cols, st.XtX)
			ratio := eg / er
			fmt.Fprintf(&table, "  %-45s %5d×%-5d rtn %10.4g gptq %10.4g ratio %.3f\n", s.Name, rows, cols, er, eg, ratio)
			if !(eg < er) {
				t.Errorf("w%d g128 %s: GPTQ error %g is not below RTN's %g", bits, s.Name, eg, er)
			}
			worst = max(worst, ratio)
			sumRatio += ratio
			rtnTotal += er
			gptqTotal += eg
		}
		t.Logf("w%d g128 sym fp16, %d layers: GPTQ/RTN error ratio mean %.3f, worst %.3f; summed error rtn %.4g gptq %.4g\n%s",
			bits, len(slots), sumRatio/float64(len(slots)), worst, rtnTotal, gptqTotal, table.String())
	}
	t.Logf("GPTQ took %v for the %d layers at both widths", spent.Round(time.Millisecond), len(slots))
}

func benchmarkGPTQ(b *testing.B, rows, cols int) {
	rng := rand.New(rand.NewPCG(20, 21))
	w := randomMatrix(rng, rows, cols)
	// A Hessian with correlations: H = AᵀA/n + diag from a random n×cols A.
	n := 2 * cols
	x := randomMatrix(rng, n, cols)
	xtx := make([]float32, cols*cols)
	xt := make([]float32, n*cols)
	for r := 0; r < n; r++ {
		for c := 0; c < cols; c++ {
			xt[c*n+r] = x[r*cols+c]
		}
	}
	kernels.MatMulNT(xtx, xt, xt, cols, cols, n)
	h := make([]float64, cols*cols)
	for i, v := range xtx {
		h[i] = 2 * float64(v) / float64(n)
	}
	g := grid.Grid{Rows: rows, Cols: cols, Granularity: group(128)}
	sc := grid.Scheme{Bits: 4, Symmetric: true, ScaleDType: safetensors.F16}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if _, err := RoundGPTQ(widen(w), append([]float64(nil), h...), g, sc, GPTQOptions{Damp: 0.01, BlockSize: 128}, "bench"); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/layer")
	}
}

// go test ./quant/ -run XXX -bench GPTQ -benchtime 1x
func BenchmarkGPTQ1544x256(b *testing.B)  { benchmarkGPTQ(b, 1544, 256) }
func BenchmarkGPTQ4096x4096(b *testing.B) { benchmarkGPTQ(b, 4096, 4096) }

// The largest Nemotron-H-8B layer shape GPTQ must handle (in_proj).
func BenchmarkGPTQ18560x4096(b *testing.B) { benchmarkGPTQ(b, 18560, 4096) }
