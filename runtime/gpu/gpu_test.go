package gpu

import (
	"math"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/kernels/cuda"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

const miniDir = "../../models/nemotron-h-mini"

var (
	setupOnce sync.Once
	setupErr  error
	skip      error
	dev       *cuda.Device
	mini      *runtime.Loaded
	gmini     *Model
)

// setup opens the GPU (skipping the test, naming what is missing, when
// there is none), the mini model and its device copy, once per binary.
func setup(t *testing.T) (*runtime.Loaded, *Model) {
	t.Helper()
	setupOnce.Do(func() {
		if dev, skip = cuda.Open(0); skip != nil {
			return
		}
		if mini, setupErr = runtime.OpenModel(miniDir, runtime.WeightsFloat32); setupErr != nil {
			return
		}
		gmini, setupErr = Upload(dev, mini.Model, Options{})
	})
	if skip != nil {
		t.Skipf("no usable GPU: %v", skip)
	}
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	t.Logf("device: %s; weights %.1f MiB", dev, float64(gmini.WeightBytes)/(1<<20))
	return mini, gmini
}

func goldenIDs(t *testing.T) []int {
	f, err := safetensors.Open(miniDir + "/golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, _, err := f.Raw("input_ids")
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int, len(raw)/4)
	for i := range ids {
		ids[i] = int(int32(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24))
	}
	return ids
}

func maxDiff(a, b []float32) (worst, scale float64) {
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if d > worst || math.IsNaN(d) {
			worst = d
		}
		scale = max(scale, math.Abs(float64(b[i])))
	}
	return
}

// TestGPUParityGolden runs the 1024-token golden window on the GPU and on
// the CPU runtime: logits within 1e-3, per-token nll within 1e-4; the hidden
// state entering every block is logged.
func TestGPUParityGolden(t *testing.T) {
	l, g := setup(t)
	ids := goldenIDs(t)
	n, d := len(ids), l.Model.Config.HiddenSize

	var cpuHidden [][]float32
	m := *l.Model
	m.HiddenHook = func(layer int, h []float32, _ int) { cpuHidden = append(cpuHidden, append([]float32(nil), h[:n*d]...)) }
	cpuLogits, err := m.Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	gpuHidden, err := g.Hidden(ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cpuHidden {
		w, s := maxDiff(gpuHidden[i], cpuHidden[i])
		t.Logf("hidden entering block %2d (%s): max |diff| %.3g (max |h| %.3g)", i, kindOf(l.Model, i), w, s)
	}
	checkOutputs(t, l.Model, g, ids, cpuLogits)
}

// checkOutputs compares the GPU's logits and losses of one window with the
// CPU's (cpuLogits, already computed by m).
func checkOutputs(t *testing.T, m *runtime.Model, g *Model, ids []int, cpuLogits []float32) {
	t.Helper()
	gpuLogits, err := g.Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	checkLogits(t, gpuLogits, cpuLogits)
	cpuNLL, err := m.NLL(ids)
	if err != nil {
		t.Fatal(err)
	}
	gpuNLL, err := g.NLL([][]int{ids})
	if err != nil {
		t.Fatal(err)
	}
	checkNLL(t, "golden window", gpuNLL[0], cpuNLL)
}

func kindOf(m *runtime.Model, i int) string {
	if i >= len(m.Blocks) {
		return "output"
	}
	return m.Blocks[i].Kind.String()
}

// checkLogits fails unless the GPU's logits are within 1e-3 of the CPU's.
func checkLogits(t *testing.T, got, want []float32) {
	t.Helper()
	if w, s := maxDiff(got, want); w > 1e-3 || math.IsNaN(w) {
		t.Errorf("logits: max |diff| %.3g (max |logit| %.3g), tolerance 1e-3", w, s)
	} else {
		t.Logf("logits: max |diff| %.3g (max |logit| %.3g)", w, s)
	}
}

func checkNLL(t *testing.T, what string, got, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d losses, want %d", what, len(got), len(want))
	}
	worst := 0.0
	for i := range want {
		if d := math.Abs(got[i] - want[i]); d > worst || math.IsNaN(d) {
			worst = d
		}
	}
	gm, wm := runtime.MeanNLL(got), runtime.MeanNLL(want)
	if worst > 1e-4 || math.IsNaN(worst) {
		t.Errorf("%s: per-token nll max |diff| %.3g, tolerance 1e-4 (mean %.8f, CPU %.8f)", what, worst, gm, wm)
	} else {
		t.Logf("%s: per-token nll max |diff| %.3g; mean %.8f, CPU %.8f (diff %.2g)", what, worst, gm, wm, gm-wm)
	}
}

// TestGPUParityBatched runs four WikiText-2 windows as one batch against
// the CPU, window by window.
func TestGPUParityBatched(t *testing.T) {
	l, g := setup(t)
	text, err := datasets.Load(datasets.WikiText2Test)
	if err != nil {
		t.Fatal(err)
	}
	ids := l.Tokenizer.Encode(eval.JoinRows(text.Body))
	windows := eval.Windows(ids, 1024, 4)
	got, err := g.NLL(windows)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range windows {
		want, err := l.Model.NLL(w)
		if err != nil {
			t.Fatal(err)
		}
		checkNLL(t, "window "+string(rune('0'+i)), got[i], want)
	}
}

// TestGPUProfile times one batch of 32 WikiText-2 windows, then runs it
// again with every operation synchronised and timed, and logs where the
// time goes (for tuning; it checks nothing but that both runs agree).
func TestGPUProfile(t *testing.T) {
	l, g := setup(t)
	text, err := datasets.Load(datasets.WikiText2Test)
	if err != nil {
		t.Fatal(err)
	}
	windows := eval.Windows(l.Tokenizer.Encode(eval.JoinRows(text.Body)), 1024, 32)
	if _, err := g.NLL(windows); err != nil { // warm: scratch, cuBLAS
		t.Fatal(err)
	}
	t0 := time.Now()
	plain, err := g.NLL(windows)
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(t0)
	var profiled [][]float64
	prof, err := g.Dev.Profile(func() error {
		var err error
		profiled, err = g.NLL(windows)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if w := worstNLL(profiled, plain); w != 0 {
		t.Errorf("profiled run: per-token nll %.3g from the unprofiled run's", w)
	}
	g.ScanPerChannel = true
	perChannel, err := g.Dev.Profile(func() error {
		got, err := g.NLL(windows)
		if err == nil {
			if w := worstNLL(got, plain); w > 1e-4 || math.IsNaN(w) {
				t.Errorf("per-channel scan: per-token nll %.3g from the default scan's", w)
			} else {
				t.Logf("per-channel scan: per-token nll within %.3g of the default scan's", w)
			}
		}
		return err
	})
	g.ScanPerChannel = false
	if err != nil {
		t.Fatal(err)
	}
	if e := perChannel["ssm_scan"]; e != nil {
		t.Logf("per-channel scan kernel (one warp per channel): %d calls %.2f ms", e.Calls, e.Time.Seconds()*1e3)
	}
	names := make([]string, 0, len(prof))
	var total time.Duration
	for k, v := range prof {
		names = append(names, k)
		total += v.Time
	}
	sort.Slice(names, func(i, j int) bool { return prof[names[i]].Time > prof[names[j]].Time })
	t.Logf("32 windows x 1024: %.1f ms unprofiled (%.0f tokens/s); profiled ops sum to %.1f ms:", wall.Seconds()*1e3, 32*1024/wall.Seconds(), total.Seconds()*1e3)
	for _, k := range names {
		v := prof[k]
		t.Logf("  %-28s %5d calls %8.2f ms %5.1f%%", k, v.Calls, v.Time.Seconds()*1e3, 100*v.Time.Seconds()/total.Seconds())
	}
}

func worstNLL(got, want [][]float64) float64 {
	worst := 0.0
	for i := range want {
		for j := range want[i] {
			if d := math.Abs(got[i][j] - want[i][j]); d > worst || math.IsNaN(d) {
				worst = d
			}
		}
	}
	return worst
}
