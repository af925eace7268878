package gpucalib

import (
	"math"
	"testing"

	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/kernels/cuda"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/calib"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/gpu"
)

const miniDir = "../../../models/nemotron-h-mini"

// gptqPlan calibrates every kind of projection the mini has: GPTQ into
// hyquant's grid (symmetric and asymmetric) and into llama.cpp's Q4_K, and
// lm_head (norm_f's output).
const gptqPlan = `name: gpu-gptq
categories:
  ssm_in_proj: {method: gptq, bits: 4, granularity: "group:128"}
  ssm_out_proj: {method: gptq, bits: 4, granularity: "group:64", symmetric: false}
  mlp_up: {method: gptq, bits: 4, granularity: "group:128"}
  mlp_down: {method: ggml, type: q4_K, rounding: gptq}
  attn_q: {method: gptq, bits: 4, granularity: "group:128"}
  attn_k: {method: gptq, bits: 4, granularity: "group:128"}
  attn_v: {method: gptq, bits: 4, granularity: "group:128"}
  attn_o: {method: gptq, bits: 4, granularity: "group:128"}
  lm_head: {method: gptq, bits: 4, granularity: "group:128"}
`

func open(t *testing.T) *cuda.Device {
	t.Helper()
	dev, err := cuda.Open(0)
	if err != nil {
		t.Skipf("no usable GPU: %v", err)
	}
	return dev
}

// lockstep runs the GPU runner and calib's CPU reference side by side:
// both see every Replace, every Observe's statistics are compared, and the
// CPU's are returned, so the quantisation proceeds exactly as on the CPU
// and every block's comparison is made with the same quantised layers
// before it. (GPTQ is chaotic: a 1e-7 relative change of XᵀX flips ~14%
// of the mini's codes, so the two runners' own outputs can only be
// compared statistically; their inputs can be compared exactly.)
type lockstep struct {
	t        *testing.T
	gpu, cpu calib.BlockRunner
	worst    map[string]float64 // per statistic, max |diff| / max |value|
	observed int
}

func (l *lockstep) Observe(block int, names []string) (map[string]*quant.Stats, error) {
	g, err := l.gpu.Observe(block, names)
	if err != nil {
		return nil, err
	}
	c, err := l.cpu.Observe(block, names)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		gs, cs := g[n], c[n]
		if gs == nil || cs == nil || gs.Rows != cs.Rows || gs.Cols != cs.Cols {
			l.t.Fatalf("block %d %s: GPU statistics %+v, CPU %+v", block, n, gs, cs)
		}
		for what, pair := range map[string][2][]float64{"XtX": {gs.XtX, cs.XtX}, "Sum": {gs.Sum, cs.Sum}, "AbsMax": {widen(gs.AbsMax), widen(cs.AbsMax)}} {
			worst, scale := 0.0, 0.0
			for i, v := range pair[1] {
				worst = max(worst, math.Abs(pair[0][i]-v))
				scale = max(scale, math.Abs(v))
			}
			if r := worst / scale; r > l.worst[what] || math.IsNaN(r) {
				l.worst[what] = r
			}
		}
		l.observed++
	}
	return c, nil
}

func (l *lockstep) Advance(block int) error {
	if err := l.gpu.Advance(block); err != nil {
		return err
	}
	return l.cpu.Advance(block)
}

func (l *lockstep) Replace(name string, lin kernels.Linear) error {
	if err := l.gpu.Replace(name, lin); err != nil {
		return err
	}
	return l.cpu.Replace(name, lin)
}

func (l *lockstep) Close() { l.gpu.Close(); l.cpu.Close() }

// check fails the test unless every statistic was within 1e-5 of the
// largest CPU value.
func (l *lockstep) check() {
	l.t.Helper()
	if len(l.worst) != 3 {
		l.t.Fatalf("%d statistics compared, want 3", len(l.worst))
	}
	for what, w := range l.worst {
		if w > 1e-5 || math.IsNaN(w) {
			l.t.Errorf("%s: GPU within %.3g of the largest CPU value at worst, tolerance 1e-5", what, w)
		} else {
			l.t.Logf("%s over %d projections: GPU within %.3g of the largest CPU value at worst", what, l.observed, w)
		}
	}
}

// TestGPUCalibrationGPTQ quantises the mini with GPTQ (hyquant's grids and
// llama.cpp's Q4_K, lm_head included) from 16 segments of 512 tokens with
// the GPU pass and the CPU reference in lockstep: at every projection, with
// the same quantised layers before it, the GPU's XᵀX, sums and maxima are
// within 1e-5 of the largest value of the CPU's.
func TestGPUCalibrationGPTQ(t *testing.T) {
	dev := open(t)
	defer dev.Close()
	l, err := runtime.OpenModel(miniDir, runtime.WeightsFloat32)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, err := plan.ResolveYAML([]byte(gptqPlan), "gpu-gptq.yaml", l.Files)
	if err != nil {
		t.Fatal(err)
	}
	segs, err := eval.CalibrationSegments(l.Tokenizer, eval.CalibrationConfig{Segments: 16, Length: 512, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	ls := &lockstep{t: t, worst: map[string]float64{}}
	newRunner := Runner(dev, gpu.Options{})
	_, err = calib.Apply(l.Files.Config, l.Weights, r, calib.ApplyOptions{Segments: segs, Runner: func(m *runtime.Model, segs [][]int) (calib.BlockRunner, error) {
		var err error
		if ls.gpu, err = newRunner(m, segs); err != nil {
			return nil, err
		}
		ls.cpu, err = calib.NewCPURunner(m, segs)
		return ls, err
	}})
	if err != nil {
		t.Fatal(err)
	}
	if ls.observed < 40 {
		t.Fatalf("only %d projections observed", ls.observed)
	}
	ls.check()
}

// TestGPUPassStats drives the GPU runner and the CPU reference by hand
// over the float model: the first block's in_proj inputs and, after every
// block has advanced, lm_head's, within 1e-5 of the largest CPU value.
func TestGPUPassStats(t *testing.T) {
	dev := open(t)
	defer dev.Close()
	l, err := runtime.OpenModel(miniDir, runtime.WeightsFloat32)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	segs, err := eval.CalibrationSegments(l.Tokenizer, eval.CalibrationConfig{Segments: 6, Length: 256, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	m := l.Model
	g, err := Runner(dev, gpu.Options{})(m, segs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := calib.NewCPURunner(m, segs)
	if err != nil {
		t.Fatal(err)
	}
	ls := &lockstep{t: t, gpu: g, cpu: c, worst: map[string]float64{}}
	defer ls.Close()
	if _, err := ls.Observe(0, []string{m.Linears()[0].Name}); err != nil {
		t.Fatal(err)
	}
	for i := range m.Blocks {
		if err := ls.Advance(i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ls.Observe(-1, []string{runtime.LMHeadName}); err != nil {
		t.Fatal(err)
	}
	ls.check()
}

func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
