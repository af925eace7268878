package plan

import (
	"strings"
	"testing"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

func miniInventory(t *testing.T) *runtime.Inventory {
	t.Helper()
	c, err := runtime.LoadConfig("../../models/nemotron-h-mini/config.json")
	if err != nil {
		t.Fatal(err)
	}
	return runtime.BuildInventory(c)
}

func bf16(string) safetensors.DType { return safetensors.BF16 }

// Overrides pick tensors by layer, category and name; the last match wins;
// bytes follow (4 layers of mlp_down at 8 bits instead of 4).
func TestOverrides(t *testing.T) {
	p, err := parsePlan(t, `
categories:
  mlp_down: {bits: 4, granularity: "group:128"}
  mlp_up: {bits: 4, granularity: "group:128"}
overrides:
  - {layers: [1, 3], categories: [mlp_down, mlp_up], spec: {bits: 8}}
  - {tensors: 'layers\.3\.mixer\.up_proj', spec: keep}
  - {layers: [19], spec: {method: ggml, type: q6_K}}
`)
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Resolve(miniInventory(t), bf16)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"backbone.layers.1.mixer.down_proj.weight":  "rtn w8 channel sym fp16",
		"backbone.layers.1.mixer.up_proj.weight":    "rtn w8 channel sym fp16",
		"backbone.layers.3.mixer.down_proj.weight":  "rtn w8 channel sym fp16",
		"backbone.layers.3.mixer.up_proj.weight":    "keep",
		"backbone.layers.6.mixer.down_proj.weight":  "rtn w4 group:128 sym fp16",
		"backbone.layers.19.mixer.down_proj.weight": "ggml q6_K",
		"backbone.layers.19.norm.weight":            "ggml q6_K",
		"backbone.layers.0.mixer.in_proj.weight":    "keep",
	}
	got := map[string]string{}
	for _, a := range r.Assignments {
		got[a.Param.Name] = a.Spec.String()
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: %q, want %q", n, got[n], w)
		}
	}
	_ = got
	f := r.Footprint()
	for _, c := range f.Categories {
		if c.Category == runtime.MLPDown && !strings.Contains(c.Precision(), "×") {
			t.Errorf("mlp_down precision %q does not list its mixed specs", c.Precision())
		}
	}
}

// A recipe plan resolves to llama-quantize's types, F32 for the rest, and
// categories the plan names override the recipe.
func TestRecipePlan(t *testing.T) {
	p, err := parsePlan(t, "llama_recipe: {recipe: Q4_K_M}\ncategories:\n  lm_head: {keep: bf16}\n")
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Resolve(miniInventory(t), bf16)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]quant.Assignment{}
	for _, a := range r.Assignments {
		byName[a.Param.Name] = a
	}
	if s := byName["backbone.layers.1.mixer.down_proj.weight"].Spec; s.Method != quant.GGMLMethod || s.GGMLType != ggml.Q6_K {
		t.Errorf("first ffn_down: %s, llama-quantize gives q6_K", s)
	}
	if s := byName["backbone.layers.0.mixer.A_log"].Spec; !s.Keep || s.KeepDType != safetensors.F32 {
		t.Errorf("A_log: %s, want keep fp32", s)
	}
	if s := byName["lm_head.weight"].Spec; !s.Keep || s.KeepDType != safetensors.BF16 {
		t.Errorf("lm_head: %s, the plan's categories say keep bf16", s)
	}
	// Without the override the bytes are llama-quantize's file's.
	p, _ = parsePlan(t, "llama_recipe: Q4_K_M\n")
	r, _ = p.Resolve(miniInventory(t), bf16)
	if f := r.Footprint(); f.Quantized != 9633888 {
		t.Errorf("Q4_K_M plan: %d bytes, llama-quantize's file holds 9,633,888", f.Quantized)
	}
	for _, bad := range []struct{ src, want string }{
		{"llama_recipe: Q9_K\n", `unknown llama.cpp recipe "Q9_K"`},
		{"llama_recipe: IQ2_XS\n", "needs an importance matrix"},
		{"categories: {}\noverrides:\n  - {layers: [1], spec: {bits: 4}, colour: red}\n", "colour: unknown field"},
		{"categories: {}\noverrides:\n  - {tensors: '(', spec: keep}\n", "not a regular expression"},
		{"categories: {}\noverrides:\n  - {categories: [mlp], spec: keep}\n", `unknown category "mlp"`},
		{"categories:\n  ssm_conv1d: {method: ggml, type: q4_K}\n", "q4_K: a row of 4 values is not a whole number of 256-value blocks"},
	} {
		p, err := parsePlan(t, bad.src)
		if err == nil {
			_, err = p.Resolve(miniInventory(t), bf16)
		}
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.src, err, bad.want)
		}
	}
}
