package plan

import (
	"strings"
	"testing"

	"github.com/hyquant/hyquant/internal/yamlx"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

func parsePlan(t *testing.T, src string) (*Plan, error) {
	t.Helper()
	m, err := yamlx.Parse([]byte(src), "p.yaml")
	if err != nil {
		return nil, err
	}
	return ParsePlan(m)
}

func TestParsePlanErrors(t *testing.T) {
	cases := []struct{ src, want string }{
		{"categories:\n  ssm_inproj: keep\n", `p.yaml:2: categories.ssm_inproj: unknown category "ssm_inproj"`},
		{"categories:\n  mlp_up: {bits: 9}\n", "p.yaml:2: categories.mlp_up: bits 9 is outside 2..8"},
		{"categories:\n  mlp_up: {bits: 4, granularity: group:0}\n", `categories.mlp_up.granularity: "group:0" is not tensor, channel or group:N`},
		{"categories:\n  mlp_up: {bits: 4, colour: red}\n", "categories.mlp_up.colour: unknown field"},
		{"categories:\n  mlp_up: {method: rtn, bits: 4, damp: 0.01}\n", "categories.mlp_up.damp: is not an option of method rtn"},
		{"categories:\n  mlp_up: {method: magic, bits: 4}\n", `unknown method "magic"`},
		{"categories:\n  mlp_up: {method: channel8, bits: 4}\n", "channel8 is 8-bit"},
		{"categories:\n  mlp_up: {granularity: channel}\n", `missing required field "bits"`},
		{"categories:\n  mlp_up: {bits: 0}\n", "p.yaml:2: categories.mlp_up.bits: bits 0 is out of range: a bit width is positive (rtn, gptq and mambaquant take 2..8"},
		{"categories:\n  mlp_up: {method: channel8, bits: 0}\n", "categories.mlp_up.bits: bits 0 is out of range"},
		{"categories:\n  mlp_up: {method: gptq, bits: -4}\n", "categories.mlp_up.bits: bits -4 is out of range"},
		{"categories:\n  mlp_up: {bits: 4, scale_dtype: fp8}\n", `"fp8" is not fp16, bf16 or fp32`},
		{"categories:\n  mlp_up: {keep: false}\n", "keep: false is meaningless"},
		{"categories:\n  mlp_up: quantise\n", `expected ` + "`keep`"},
		{"categories:\n  mlp_up: {bits: 4, act_mode: token}\n", "act_mode \"token\" given without act_bits"},
		{"name: x\n", `missing required field "categories"`},
		{"categories: {}\nextra: 1\n", "p.yaml:2: extra: unknown field"},
	}
	for _, c := range cases {
		_, err := parsePlan(t, c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.src, err, c.want)
		}
	}
}

func TestResolveRejectsGroupThatDoesNotDivide(t *testing.T) {
	p, err := parsePlan(t, "categories:\n  ssm_conv1d: {bits: 8, granularity: \"group:128\"}\n")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := runtime.LoadConfig("../../models/nemotron-h-mini/config.json")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Resolve(runtime.BuildInventory(cfg), func(string) safetensors.DType { return safetensors.BF16 })
	want := "p.yaml:2: categories.ssm_conv1d: group size 128 does not divide the input dimension 4 of backbone.layers.0.mixer.conv1d.weight [1024 1 4]"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// The footprint of a plan on the mini model, checked against numbers
// computed by hand from the shapes.
func TestFootprintMini(t *testing.T) {
	p, err := parsePlan(t, `categories:
  ssm_in_proj: {bits: 4, granularity: "group:128", scale_dtype: fp16}
  mlp_up: {method: channel8}
  ssm_conv1d: {method: channel8}
`)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := runtime.LoadConfig("../../models/nemotron-h-mini/config.json")
	r, err := p.Resolve(runtime.BuildInventory(cfg), func(string) safetensors.DType { return safetensors.BF16 })
	if err != nil {
		t.Fatal(err)
	}
	f := r.Footprint()
	if f.Baseline != 2*15213528 {
		t.Fatalf("baseline %d", f.Baseline)
	}
	// in_proj: 9 layers x 1544 rows x (256/2 codes + 2 groups x 2 bytes);
	// up_proj: 9 x 1280 x (256 + 2); conv1d weight 9 x 1024 x (4 + 2), bias kept 9 x 1024 x 2.
	inProj := int64(9 * 1544 * (128 + 4))
	up := int64(9 * 1280 * (256 + 2))
	conv := int64(9*1024*(4+2) + 9*1024*2)
	rest := int64(2*15213528) - 2*int64(9*1544*256) - 2*int64(9*1280*256) - 2*int64(9*1024*4+9*1024)
	if want := inProj + up + conv + rest; f.Quantized != want {
		t.Fatalf("quantized %d, want %d", f.Quantized, want)
	}
	for _, c := range f.Categories {
		if c.Category == runtime.SSMInProj && c.Quantized != inProj {
			t.Errorf("ssm_in_proj %d, want %d", c.Quantized, inProj)
		}
	}
}
