package eval

import (
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/calib"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
)

// concurrencyPlan puts every kind of Linear and Embedder a quantised model
// can hold on the forward path: QLinear at 3 (generic decoder), 4 and 8
// bits, llama.cpp blocks (DecodedLinear), a KLT rotation with smoothing and
// static activation quantisation, a Hadamard rotation with dynamic
// activation quantisation (RotatedLinear and ActQuant, with their scratch
// pool), a quantised embedding and lm_head.
const concurrencyPlan = `name: concurrency
categories:
  ssm_in_proj: {method: rtn, bits: 3, granularity: "group:64", symmetric: false}
  ssm_out_proj: {method: ggml, type: q4_K}
  mlp_up: {method: mambaquant, bits: 4, granularity: "group:128", rotation: klt, smooth: 0.5, act_bits: 8, act_mode: tensor}
  mlp_down: {method: mambaquant, bits: 4, granularity: channel, rotation: hadamard, act_bits: 8, act_mode: token}
  attn_q: {method: rtn, bits: 8, granularity: tensor}
  attn_o: {method: ggml, type: q8_0}
  embedding: {method: channel8}
  lm_head: {method: rtn, bits: 4, granularity: "group:128"}
`

// quantizedMini quantises the mini model under concurrencyPlan, calibrated
// on two short segments.
func quantizedMini(t *testing.T, l *runtime.Loaded) *runtime.Model {
	t.Helper()
	r, err := plan.ResolveYAML([]byte(concurrencyPlan), "concurrency.yaml", l.Files)
	if err != nil {
		t.Fatal(err)
	}
	segs, err := CalibrationSegments(l.Tokenizer, CalibrationConfig{Segments: 2, Length: 64, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	applied, err := calib.Apply(l.Files.Config, l.Weights, r, calib.ApplyOptions{Segments: segs})
	if err != nil {
		t.Fatal(err)
	}
	return applied.Model
}

// linearKinds names the Linear and Embedder types of a model, to check
// that the test covers what it claims to.
func linearKinds(m *runtime.Model) map[string]bool {
	kinds := map[string]bool{fmt.Sprintf("embed %T", m.Embed): true}
	var name func(l kernels.Linear) string
	name = func(l kernels.Linear) string {
		switch v := l.(type) {
		case *quant.RotatedLinear:
			return fmt.Sprintf("rotated(%s, %s)", v.T.Kind, name(v.Inner))
		case *quant.ActQuant:
			return fmt.Sprintf("act%d-%s(%s)", v.Bits, v.Mode, name(v.Inner))
		case *kernels.DecodedLinear:
			if g, ok := v.Decoder().(*ggml.Rows); ok {
				return "decoded " + g.Type().String()
			}
			return fmt.Sprintf("decoded %T", v.Decoder())
		case *kernels.QLinear:
			return fmt.Sprintf("q%d", v.QMatrix().Bits)
		}
		return fmt.Sprintf("%T", l)
	}
	for _, s := range m.Linears() {
		kinds[name(*s.Ptr)] = true
	}
	return kinds
}

// Model.NLL and Model.Logits may be called from several goroutines at once
// on the same model, and give bit for bit what sequential calls give. Run
// it with -race:
//
//	go test -race -run TestConcurrentForward ./eval/
func TestConcurrentForward(t *testing.T) {
	l := openMini(t)
	ids := l.Tokenizer.Encode(JoinRows(datasets.MustEmbedded(datasets.WikiText2Test).Body[:6000]))
	windows := Windows(ids, 64, 4)
	if len(windows) != 4 {
		t.Fatalf("%d windows of 64 tokens", len(windows))
	}
	mapped, err := runtime.OpenModel("../models/nemotron-h-mini", runtime.WeightsMapped)
	if err != nil {
		t.Fatal(err)
	}
	defer mapped.Close()
	models := []struct {
		name string
		m    *runtime.Model
	}{{"float", l.Model}, {"mapped bf16", mapped.Model}, {"quantised", quantizedMini(t, l)}}
	for _, tc := range models {
		t.Run(tc.name, func(t *testing.T) {
			t.Logf("linears: %v", linearKinds(tc.m))
			want := make([][]float64, len(windows))
			for i, w := range windows {
				if want[i], err = tc.m.NLL(w); err != nil {
					t.Fatal(err)
				}
			}
			wantLogits, err := tc.m.Logits(windows[0])
			if err != nil {
				t.Fatal(err)
			}
			// Four NLL calls on different windows, and two more on the same
			// window as two Logits calls, all at once.
			got := make([][]float64, len(windows)+2)
			gotLogits := make([][]float32, 2)
			errs := make([]error, len(got)+len(gotLogits))
			var wg sync.WaitGroup
			for i := range got {
				wg.Go(func() { got[i], errs[i] = tc.m.NLL(windows[i%len(windows)]) })
			}
			for i := range gotLogits {
				wg.Go(func() { gotLogits[i], errs[len(got)+i] = tc.m.Logits(windows[0]) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
			}
			for i, g := range got {
				w := want[i%len(windows)]
				if len(g) != len(w) {
					t.Fatalf("call %d: %d losses, want %d", i, len(g), len(w))
				}
				for j := range g {
					if math.Float64bits(g[j]) != math.Float64bits(w[j]) {
						t.Fatalf("call %d (window %d), position %d: concurrent loss %v, sequential %v", i, i%len(windows), j, g[j], w[j])
					}
				}
			}
			for i, g := range gotLogits {
				for j := range g {
					if math.Float32bits(g[j]) != math.Float32bits(wantLogits[j]) {
						t.Fatalf("Logits call %d, value %d: concurrent %v, sequential %v", i, j, g[j], wantLogits[j])
					}
				}
			}
		})
	}
}
