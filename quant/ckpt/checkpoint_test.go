package ckpt_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/quant/calib"
	"github.com/hyquant/hyquant/quant/ckpt"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
)

// mixedPlan exercises every stored form: asymmetric 3-bit codes, GPTQ,
// a KLT rotation with smoothing and static activation scales, Hadamard with
// per-token activations, conv1d/norm/embedding quantised, casts.
const mixedPlan = `name: mixed
categories:
  ssm_in_proj: {method: rtn, bits: 3, granularity: "group:64", symmetric: false, scale_dtype: bf16}
  ssm_out_proj: {method: gptq, bits: 4, granularity: "group:128", act_order: true, static_groups: true}
  mlp_up: {method: mambaquant, bits: 4, granularity: "group:128", rotation: klt, smooth: 0.5, act_bits: 8, act_mode: tensor}
  mlp_down: {method: mambaquant, bits: 4, granularity: channel, rotation: hadamard, act_bits: 8, act_mode: token}
  attn_q: {method: rtn, bits: 8, granularity: tensor}
  attn_o: {method: gptq, bits: 3, granularity: channel}
  ssm_conv1d: {method: channel8}
  ssm_norm: {method: rtn, bits: 8, granularity: channel, symmetric: false}
  embedding: {method: channel8}
  lm_head: {method: rtn, bits: 4, granularity: "group:128", scale_dtype: fp32}
  block_norm: {keep: fp16}
`

func loadMiniForQuant(t *testing.T) *runtime.Loaded {
	t.Helper()
	l, err := runtime.OpenModel("../../models/nemotron-h-mini", runtime.WeightsFloat32)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func resolveMini(t *testing.T, l *runtime.Loaded, src string) *plan.Resolved {
	t.Helper()
	r, err := plan.ResolveYAML([]byte(src), "mixed.yaml", l.Files)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The model quantised in memory and the model read back from the written
// checkpoint compute the same logits bit for bit, and the checkpoint holds
// exactly the bytes the plan predicts.
func TestWriteReadCheckpointRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("quantises the mini model")
	}
	l := loadMiniForQuant(t)
	r := resolveMini(t, l, mixedPlan)
	segs, err := eval.CalibrationSegments(l.Tokenizer, eval.CalibrationConfig{Segments: 4, Length: 128, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	applied, err := calib.Apply(l.Files.Config, l.Weights, r, calib.ApplyOptions{Segments: segs, MeasureErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(applied.LayerErrors) == 0 {
		t.Fatal("no layer errors measured")
	}
	for _, e := range applied.LayerErrors {
		if !(e.RelError > 0 && e.RelError < 1) {
			t.Errorf("%s: relative error %v outside (0, 1)", e.Name, e.RelError)
		}
	}
	ck, err := l.Files.OpenCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	dir := filepath.Join(t.TempDir(), "q")
	sum, err := ckpt.WriteCheckpoint(dir, l.Files, ck, r, applied.Weights.Results, applied.Weights.ActScales, ckpt.WriteOptions{ShardBytes: 4e6})
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Footprint(); sum.TensorBytes != f.Quantized || sum.Shards < 2 {
		t.Fatalf("wrote %d tensor bytes in %d shards, plan says %d", sum.TensorBytes, sum.Shards, f.Quantized)
	}
	back, err := runtime.OpenModel(dir, runtime.WeightsFloat32)
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if back.Format != ckpt.ManifestFormat {
		t.Fatalf("format %q", back.Format)
	}
	ids := segs[0][:64]
	want, err := applied.Model.Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.Model.Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("logit %d: checkpoint %v, in memory %v", i, got[i], want[i])
		}
	}
	// Quantisation changed the model, but not absurdly.
	orig, _ := l.Model.Logits(ids)
	var d float64
	for i := range orig {
		d = math.Max(d, math.Abs(float64(orig[i]-want[i])))
	}
	if d == 0 || d > 20 {
		t.Errorf("max logit change %v", d)
	}
	t.Logf("max logit change from quantisation %.3g", d)
}

// Streaming RTN straight from the checkpoint gives the same tensors as
// quantising in memory.
func TestStreamedWriteMatchesInMemory(t *testing.T) {
	l := loadMiniForQuant(t)
	r := resolveMini(t, l, "categories:\n  mlp_up: {bits: 4, granularity: \"group:64\", symmetric: false}\n  lm_head: {method: channel8}\n  embedding: {bits: 3, granularity: channel}\n")
	ck, err := l.Files.OpenCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	streamed := filepath.Join(t.TempDir(), "s")
	if _, err := ckpt.WriteCheckpoint(streamed, l.Files, ck, r, nil, nil, ckpt.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	applied, err := calib.Apply(l.Files.Config, l.Weights, r, calib.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mem := filepath.Join(t.TempDir(), "m")
	if _, err := ckpt.WriteCheckpoint(mem, l.Files, ck, r, applied.Weights.Results, nil, ckpt.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(streamed, "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(mem, "model.safetensors"))
	if len(a) == 0 || string(a) != string(b) {
		t.Fatalf("streamed and in-memory checkpoints differ (%d vs %d bytes)", len(a), len(b))
	}
}

func TestCorruptQuantizedCheckpointRejected(t *testing.T) {
	l := loadMiniForQuant(t)
	r := resolveMini(t, l, "categories:\n  mlp_up: {bits: 4, granularity: \"group:64\", symmetric: false}\n")
	ck, err := l.Files.OpenCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	base := filepath.Join(t.TempDir(), "q")
	if _, err := ckpt.WriteCheckpoint(base, l.Files, ck, r, nil, nil, ckpt.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ckpt.WriteCheckpoint(base, l.Files, ck, r, nil, nil, ckpt.WriteOptions{}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("overwrite without force: %v", err)
	}
	manBytes, _ := os.ReadFile(filepath.Join(base, ckpt.ManifestFile))
	cases := []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"format", func(m map[string]any) { m["format"] = "other" }, `format "other"`},
		{"version", func(m map[string]any) { m["version"] = 9 }, "version 9"},
		{"unknown field", func(m map[string]any) { m["colour"] = 1 }, "unknown field"},
		{"bits", func(m map[string]any) { tensor(m, "backbone.layers.1.mixer.up_proj.weight")["bits"] = 12 }, "bits 12"},
		{"method", func(m map[string]any) { tensor(m, "backbone.layers.1.mixer.up_proj.weight")["method"] = "magic" }, `unknown method "magic"`},
		{"granularity", func(m map[string]any) {
			tensor(m, "backbone.layers.1.mixer.up_proj.weight")["granularity"] = "group:100"
		}, "does not divide"},
		{"parts", func(m map[string]any) {
			tensor(m, "backbone.layers.1.mixer.up_proj.weight")["symmetric"] = true
		}, "stored tensors"},
		{"shape", func(m map[string]any) { tensor(m, "backbone.norm_f.weight")["shape"] = []int{3} }, "shape [3]"},
		{"missing entry", func(m map[string]any) {
			ts := m["tensors"].([]any)
			m["tensors"] = ts[1:]
		}, "no entry for parameter"},
		{"stored mismatch", func(m map[string]any) {
			tensor(m, "backbone.layers.1.mixer.up_proj.weight")["scale_dtype"] = "F32"
		}, "its spec needs F32"},
	}
	for _, c := range cases {
		dir := filepath.Join(t.TempDir(), c.name)
		copyDir(t, base, dir)
		var m map[string]any
		json.Unmarshal(manBytes, &m)
		c.edit(m)
		b, _ := json.Marshal(m)
		os.WriteFile(filepath.Join(dir, ckpt.ManifestFile), b, 0o644)
		_, err := runtime.OpenModel(dir, runtime.WeightsFloat32)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}

func tensor(m map[string]any, name string) map[string]any {
	for _, t := range m["tensors"].([]any) {
		if tm := t.(map[string]any); tm["name"] == name {
			return tm
		}
	}
	panic(name)
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(src)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644)
	}
}
