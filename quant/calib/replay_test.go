package calib_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/quant/calib"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
)

// Every calibrated path: GPTQ (groups, and inside llama.cpp's blocks with
// an importance matrix), KLT with smoothing, and a rotated layer with a
// static activation scale (observed a second time, after its transform).
const workersPlan = `
name: workers
categories:
  ssm_in_proj: {method: gptq, bits: 4, granularity: "group:128"}
  ssm_out_proj: {method: ggml, type: q4_K, imatrix: true, rounding: gptq}
  mlp_up: {method: mambaquant, bits: 4, granularity: channel, rotation: klt, smooth: 0.5}
  mlp_down: {method: mambaquant, bits: 4, granularity: channel, rotation: hadamard, act_bits: 8, act_mode: tensor}
  attn_v: {method: gptq, bits: 3, granularity: channel, act_order: true}
  lm_head: {method: gptq, bits: 4, granularity: "group:128"}
`

// TestApplyWorkersBitIdentical: segments run through each block at once
// give the same quantised model, bit for bit, as one segment at a time.
func TestApplyWorkersBitIdentical(t *testing.T) {
	l, err := runtime.OpenModel("", runtime.WeightsFloat32)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, err := plan.ResolveYAML([]byte(workersPlan), "workers.yaml", l.Files)
	if err != nil {
		t.Fatal(err)
	}
	text, err := datasets.Load(datasets.WikiText103Valid)
	if err != nil {
		t.Fatal(err)
	}
	ids := l.Tokenizer.Encode(text.Body[:40000])
	var segs [][]int
	// 7 segments: q, k and v's 21 batches fill a Collector's queue
	// (flushBatches) in the middle of a group.
	for k := 0; k < 7; k++ {
		segs = append(segs, ids[k*100:k*100+48+k]) // lengths differ
	}
	apply := func(workers int) *calib.Applied {
		a, err := calib.Apply(l.Files.Config, l.Weights, r, calib.ApplyOptions{Segments: segs, MeasureErrors: true, Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	one, three := apply(1), apply(3)
	if len(one.Weights.Results) < 20 {
		t.Fatalf("only %d tensors quantised", len(one.Weights.Results))
	}
	sameResults(t, one, three, "with 1 worker", "with 3")
	for name, s := range one.Weights.ActScales {
		if three.Weights.ActScales[name] != s {
			t.Errorf("activation scale of %s: %v with 1 worker, %v with 3", name, s, three.Weights.ActScales[name])
		}
	}
	if len(one.Weights.ActScales) == 0 {
		t.Error("no static activation scale was measured")
	}
	for i, e := range one.LayerErrors {
		if three.LayerErrors[i] != e {
			t.Errorf("layer error %s: %v with 1 worker, %v with 3", e.Name, e.RelError, three.LayerErrors[i].RelError)
		}
	}
}

// sameResults fails unless a and b quantised every tensor to the same
// values, bit for bit (as and bs say how each was made).
func sameResults(t *testing.T, a, b *calib.Applied, as, bs string) {
	t.Helper()
	for name, q := range a.Weights.Results {
		x, err := q.Dequantize()
		if err != nil {
			t.Fatal(err)
		}
		other := b.Weights.Results[name]
		if other == nil {
			t.Fatalf("%s quantised %s only", name, as)
		}
		y, err := other.Dequantize()
		if err != nil {
			t.Fatal(err)
		}
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				t.Fatalf("%s differs at %d: %v %s, %v %s", name, i, x[i], as, y[i], bs)
			}
		}
	}
}

// recorder keeps every call it sees, in order.
type recorder struct{ calls []string }

func (r *recorder) ObserveLinearInput(name string, x []float32, rows, cols int) {
	var h uint64 = 14695981039346656037
	for _, v := range x[:rows*cols] {
		h = (h ^ uint64(math.Float32bits(v))) * 1099511628211
	}
	r.calls = append(r.calls, fmt.Sprintf("%s %d %x", name, rows, h))
}

// TestObserveBlockOrder: with several workers the observer sees exactly
// the calls of a pass over the segments one at a time, in that order
// (the sums it accumulates depend on the order once there are many).
func TestObserveBlockOrder(t *testing.T) {
	l, err := runtime.OpenModel("", runtime.WeightsFloat32)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	text, err := datasets.Load(datasets.WikiText103Valid)
	if err != nil {
		t.Fatal(err)
	}
	ids := l.Tokenizer.Encode(text.Body[:20000])
	var segs [][]int
	var hs [][]float32
	for k := 0; k < 7; k++ {
		seg := ids[k*50 : k*50+20+k]
		h, err := l.Model.EmbedTokens(seg)
		if err != nil {
			t.Fatal(err)
		}
		segs, hs = append(segs, seg), append(hs, h)
	}
	all := func(string) bool { return true }
	for _, block := range []int{0, 5} { // a Mamba block and an attention block
		var one, many recorder
		calib.ObserveBlock(l.Model, block, hs, segs, &one, all, 1)
		calib.ObserveBlock(l.Model, block, hs, segs, &many, all, 3)
		if len(one.calls) < 7 || len(one.calls) != len(many.calls) {
			t.Fatalf("block %d: %d calls one at a time, %d with 3 workers", block, len(one.calls), len(many.calls))
		}
		for i := range one.calls {
			if one.calls[i] != many.calls[i] {
				t.Fatalf("block %d call %d: %q one at a time, %q with 3 workers", block, i, one.calls[i], many.calls[i])
			}
		}
	}
}
