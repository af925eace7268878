package calib_test

import (
	"testing"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/quant/calib"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
)

// TestApplyOnRunner: the calibrated pass through a BlockRunner (here the
// CPU runtime behind the interface, one segment at a time) quantises the
// model bit for bit as the built-in pass does; a runner that misses a
// Replace, or observes the wrong block, would not.
func TestApplyOnRunner(t *testing.T) {
	l, err := runtime.OpenModel("", runtime.WeightsFloat32)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const gptq = `
name: runner
categories:
  ssm_in_proj: {method: gptq, bits: 4, granularity: "group:128"}
  ssm_out_proj: {method: ggml, type: q4_K, rounding: gptq}
  mlp_up: {method: gptq, bits: 3, granularity: "group:64", symmetric: false}
  mlp_down: {method: gptq, bits: 4, granularity: "group:128"}
  attn_q: {method: gptq, bits: 4, granularity: "group:128"}
  attn_v: {method: gptq, bits: 4, granularity: "group:128"}
  attn_o: {method: gptq, bits: 4, granularity: "group:128"}
  lm_head: {method: gptq, bits: 4, granularity: "group:128"}
`
	r, err := plan.ResolveYAML([]byte(gptq), "runner.yaml", l.Files)
	if err != nil {
		t.Fatal(err)
	}
	text, err := datasets.Load(datasets.WikiText103Valid)
	if err != nil {
		t.Fatal(err)
	}
	ids := l.Tokenizer.Encode(text.Body[:40000])
	var segs [][]int
	for k := 0; k < 4; k++ {
		segs = append(segs, ids[k*200:k*200+96])
	}
	want, err := calib.Apply(l.Files.Config, l.Weights, r, calib.ApplyOptions{Segments: segs, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	got, err := calib.Apply(l.Files.Config, l.Weights, r, calib.ApplyOptions{Segments: segs, Runner: calib.NewCPURunner})
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Weights.Results) < 30 {
		t.Fatalf("only %d tensors quantised", len(want.Weights.Results))
	}
	sameResults(t, want, got, "from the built-in pass", "through the runner")
}
