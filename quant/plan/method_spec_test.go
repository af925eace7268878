package plan

import (
	"strings"
	"testing"

	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// The spec errors and defaults of the methods, as plan parsing and
// resolution report them.
func TestMethodSpecErrors(t *testing.T) {
	cases := []struct{ spec, want string }{
		{`{method: gptq, bits: 4, granularity: "group:128", act_order: true}`,
			"act_order with granularity group:128 needs static_groups: true"},
		{`{method: gptq, bits: 4, damp: 2}`, "damp 2 is outside (0, 1]"},
		{`{method: gptq, bits: 4, damp: -0.1}`, "damp -0.1 is outside (0, 1]"},
		{`{method: gptq, bits: 4, block_size: -3}`, "block_size -3 must be a positive number of columns"},
		{`{method: gptq, bits: 4, rotation: klt}`, "rotation: is not an option of method gptq"},
		{`{method: mambaquant, bits: 4, rounding: magic}`, `rounding "magic" is not rtn or gptq`},
		{`{method: mambaquant, bits: 4, rotation: givens}`, `rotation "givens" is not hadamard or klt`},
		{`{method: mambaquant, bits: 4, smooth: 1.5}`, "smooth 1.5 is outside [0, 1]"},
		{`{method: mambaquant, bits: 4, smooth: -0.5}`, "smooth -0.5 is outside [0, 1]"},
		{`{method: mambaquant, bits: 4, damp: 0.1}`, "damp, act_order, static_groups and block_size are GPTQ options: set rounding: gptq to use them"},
		{`{method: mambaquant, bits: 4, rounding: gptq, granularity: "group:64", act_order: true}`,
			"act_order with granularity group:64 needs static_groups: true"},
		{`{method: mambaquant, bits: 9}`, "bits 9 is outside 2..8"},
	}
	for _, c := range cases {
		_, err := parsePlan(t, "categories:\n  mlp_up: "+c.spec+"\n")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.spec, err, c.want)
		}
	}
	// Defaults are filled in.
	p, err := parsePlan(t, "categories:\n  mlp_up: {method: gptq, bits: 4}\n  mlp_down: {method: mambaquant, bits: 4, rounding: gptq, act_order: true}\n  ssm_in_proj: {method: mambaquant, bits: 4}\n")
	if err != nil {
		t.Fatal(err)
	}
	if s := p.Categories[runtime.MLPUp]; s.Damp != 0.01 || s.BlockSize != 128 || s.ActOrder || s.StaticGroups {
		t.Errorf("gptq defaults: %+v", s)
	}
	if s := p.Categories[runtime.MLPDown]; s.Rotation != "hadamard" || s.Rounding != "gptq" || s.Damp != 0.01 || !s.ActOrder || s.BlockSize != 128 {
		t.Errorf("mambaquant gptq defaults: %+v", s)
	}
	if s := p.Categories[runtime.SSMInProj]; s.Rotation != "hadamard" || s.Rounding != "rtn" || s.Seed != 0 || s.Smooth != 0 {
		t.Errorf("mambaquant defaults: %+v", s)
	}
	// Matrix-only methods are refused for tensors that are not linear weights.
	p, err = parsePlan(t, "categories:\n  ssm_conv1d: {method: gptq, bits: 8}\n")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := runtime.LoadConfig("../../models/nemotron-h-mini/config.json")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Resolve(runtime.BuildInventory(cfg), func(string) safetensors.DType { return safetensors.BF16 })
	if err == nil || !strings.Contains(err.Error(), "quantises linear-layer weights only") {
		t.Errorf("gptq on conv1d: %v", err)
	}
}
