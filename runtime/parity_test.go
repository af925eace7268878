package runtime

import (
	"math"
	"sync"
	"testing"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// golden holds the reference outputs of transformers 5.17 for the mini model
// (float32 compute from the bf16 weights, TF32 off).
type golden struct {
	f *safetensors.File
}

func loadGolden(t testing.TB) golden {
	t.Helper()
	f, err := safetensors.Open("../models/nemotron-h-mini/golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return golden{f}
}

func (g golden) floats(t testing.TB, name string) []float32 {
	t.Helper()
	v, _, err := g.f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (g golden) ids(t testing.TB) []int {
	raw, ti, err := g.f.Raw("input_ids")
	if err != nil || ti.DType != safetensors.I32 {
		t.Fatalf("input_ids: %v %v", ti.DType, err)
	}
	ids := make([]int, len(raw)/4)
	for i := range ids {
		ids[i] = int(int32(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24))
	}
	return ids
}

var (
	miniOnce  sync.Once
	miniModel *Model
	miniErr   error
)

// loadMini loads the mini model once per test binary.
func loadMini(t testing.TB) *Model {
	t.Helper()
	miniOnce.Do(func() {
		c, err := LoadConfig(miniConfig)
		if err != nil {
			miniErr = err
			return
		}
		ck, err := OpenCheckpoint("../models/nemotron-h-mini")
		if err != nil {
			miniErr = err
			return
		}
		miniModel, miniErr = LoadModel(c, NewCheckpointWeights(ck, BuildInventory(c), WeightsFloat32))
	})
	if miniErr != nil {
		t.Fatal(miniErr)
	}
	return miniModel
}

// capture records a linear layer's output rows.
type capture struct {
	kernels.Linear
	out []float32
}

func (c *capture) Apply(y, x []float32, n int) {
	c.Linear.Apply(y, x, n)
	c.out = append(c.out[:0], y[:n*c.Out()]...)
}

type inputCapture map[string][]float32

func (c inputCapture) ObserveLinearInput(name string, x []float32, rows, cols int) {
	c[name] = append([]float32(nil), x...)
}

func maxAbsDiff(a, b []float32) (float64, int) {
	worst, at := 0.0, -1
	for i := range a {
		if d := math.Abs(float64(a[i]) - float64(b[i])); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	return worst, at
}

func assertClose(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) < len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	d, at := maxAbsDiff(got[:len(want)], want)
	if d > tol || math.IsNaN(d) {
		t.Errorf("%s: max |diff| %.3g at %d (got %v, want %v), tolerance %.1g", what, d, at, got[at], want[at], tol)
	} else {
		t.Logf("%s: max |diff| %.3g", what, d)
	}
}

// TestParityIntermediates runs the first 16 golden tokens (causal, so the
// outputs at positions 0-15 do not depend on later tokens) and compares
// the projections and the hidden state entering every block.
func TestParityIntermediates(t *testing.T) {
	g := loadGolden(t)
	base := loadMini(t)
	m := *base // shallow copy: hooks and wrapped slots stay local
	ids := g.ids(t)[:16]
	const n, d = 16, 256

	inProj := &capture{Linear: base.Blocks[0].Mamba.InProj}
	outProj := &capture{Linear: base.Blocks[0].Mamba.OutProj}
	qProj := &capture{Linear: base.Blocks[5].Attention.Q}
	oProj := &capture{Linear: base.Blocks[5].Attention.O}
	mamba0, attn5 := *base.Blocks[0].Mamba, *base.Blocks[5].Attention
	mamba0.InProj, mamba0.OutProj, attn5.Q, attn5.O = inProj, outProj, qProj, oProj
	blocks := append([]*Block(nil), base.Blocks...)
	b0, b5 := *blocks[0], *blocks[5]
	b0.Mamba, b5.Attention = &mamba0, &attn5
	blocks[0], blocks[5] = &b0, &b5
	m.Blocks = blocks

	inputs := inputCapture{}
	m.Observer = inputs
	hidden := make([][]float32, len(m.Blocks)+1)
	m.HiddenHook = func(layer int, h []float32, _ int) { hidden[layer] = append([]float32(nil), h...) }
	normed, err := m.Hidden(ids)
	if err != nil {
		t.Fatal(err)
	}

	assertClose(t, "layer 0 in_proj", inProj.out, g.floats(t, "layer0_in_proj_out"), 2e-4)
	assertClose(t, "layer 0 gated norm", inputs["backbone.layers.0.mixer.out_proj.weight"], g.floats(t, "layer0_gated_norm_out"), 2e-4)
	assertClose(t, "layer 0 out_proj", outProj.out, g.floats(t, "layer0_out_proj_out"), 2e-4)
	assertClose(t, "layer 5 q_proj", qProj.out, g.floats(t, "layer5_q_proj_out"), 2e-4)
	assertClose(t, "layer 5 o_proj", oProj.out, g.floats(t, "layer5_o_proj_out"), 2e-4)

	hs := g.floats(t, "hidden_states_first16") // 21 × 16 × 256
	for i := 0; i < 20; i++ {
		assertClose(t, "hidden state entering block "+itoa(i), hidden[i], hs[i*n*d:(i+1)*n*d], 1e-3)
	}
	// Entry 20 is, by transformers' convention, either the last block's
	// output or its norm_f; it must be one of them.
	last := hs[20*n*d:]
	dRaw, _ := maxAbsDiff(hidden[20], last)
	dNorm, _ := maxAbsDiff(normed, last)
	if math.Min(dRaw, dNorm) > 1e-3 {
		t.Errorf("final hidden state: max |diff| %.3g against the raw output, %.3g against norm_f", dRaw, dNorm)
	}
	t.Logf("final hidden state: max |diff| raw %.3g, after norm_f %.3g", dRaw, dNorm)
}

func itoa(i int) string {
	return string([]byte{byte('0' + i/10), byte('0' + i%10)})
}

// TestParityLogitsAndNLL runs the whole 1024-token golden window.
func TestParityLogitsAndNLL(t *testing.T) {
	if testing.Short() {
		t.Skip("1024-token forward pass")
	}
	g := loadGolden(t)
	m := loadMini(t)
	ids := g.ids(t)
	logits, err := m.Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Config.VocabSize
	assertClose(t, "logits 0-31", logits[:32*V], g.floats(t, "logits_first32"), 1e-3)
	assertClose(t, "logits 1016-1023", logits[1016*V:], g.floats(t, "logits_last8"), 1e-3)

	nll, err := m.NLL(ids)
	if err != nil {
		t.Fatal(err)
	}
	want := g.floats(t, "nll")
	worst := 0.0
	for i, v := range want {
		if d := math.Abs(nll[i] - float64(v)); d > worst {
			worst = d
		}
	}
	if worst > 1e-4 {
		t.Errorf("per-token nll: max |diff| %.3g, tolerance 1e-4", worst)
	}
	t.Logf("per-token nll: max |diff| %.3g; mean nll %.6f", worst, MeanNLL(nll))
}
