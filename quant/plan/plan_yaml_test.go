package plan

import (
	"reflect"
	"testing"

	"github.com/hyquant/hyquant/internal/yamlx"
)

func TestPlanYAMLRoundTrip(t *testing.T) {
	p, err := parsePlan(t, `name: mix
description: "a: b"
categories:
  ssm_in_proj: {bits: 3, granularity: "group:64", symmetric: false, scale_dtype: bf16, act_bits: 8}
  mlp_up: {method: channel8}
  embedding: {keep: fp16}
  ssm_core: keep
`)
	if err != nil {
		t.Fatal(err)
	}
	q := reparse(t, p)
	if q.Name != p.Name || q.Description != p.Description || !reflect.DeepEqual(q.Categories, p.Categories) {
		t.Fatalf("round trip differs:\n%s\n%+v\n%+v", p.YAML(), p.Categories, q.Categories)
	}
}

// TestPlanYAMLRoundTripRecipe: a recipe, overrides and a rotation survive
// the plan copy an experiment writes beside its results.
func TestPlanYAMLRoundTripRecipe(t *testing.T) {
	p, err := parsePlan(t, `name: r
residual_rotation: {kind: hadamard, seed: 3}
llama_recipe: {recipe: Q4_K_M, imatrix: true, rounding: gptq}
overrides:
  - {layers: [0, 2], categories: [ssm_in_proj], spec: {method: ggml, type: q6_K}}
  - {tensors: "lm_head", spec: keep}
`)
	if err != nil {
		t.Fatal(err)
	}
	q := reparse(t, p)
	if !reflect.DeepEqual(q.Rotation, p.Rotation) || q.Recipe.String() != "Q4_K_M (imatrix) (gptq)" || len(q.Overrides) != 2 {
		t.Fatalf("round trip differs:\n%s\n%+v %v %d", p.YAML(), q.Rotation, q.Recipe, len(q.Overrides))
	}
	for i := range p.Overrides {
		a, b := p.Overrides[i], q.Overrides[i]
		if !reflect.DeepEqual(a.Layers, b.Layers) || !reflect.DeepEqual(a.Categories, b.Categories) || !reflect.DeepEqual(a.Spec, b.Spec) || (a.Tensors == nil) != (b.Tensors == nil) {
			t.Errorf("override %d: %+v became %+v", i, a, b)
		}
	}
}

// reparse reads back the plan file p.YAML() renders.
func reparse(t *testing.T, p *Plan) *Plan {
	t.Helper()
	m, err := yamlx.Parse(p.YAML(), "round.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, p.YAML())
	}
	q, err := ParsePlan(m)
	if err != nil {
		t.Fatalf("%v\n%s", err, p.YAML())
	}
	return q
}
