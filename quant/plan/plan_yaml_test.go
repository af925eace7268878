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
	m, err := yamlx.Parse(p.YAML(), "round.yaml")
	if err != nil {
		t.Fatalf("%v\n%s", err, p.YAML())
	}
	q, err := ParsePlan(m)
	if err != nil {
		t.Fatalf("%v\n%s", err, p.YAML())
	}
	if q.Name != p.Name || q.Description != p.Description || !reflect.DeepEqual(q.Categories, p.Categories) {
		t.Fatalf("round trip differs:\n%s\n%+v\n%+v", p.YAML(), p.Categories, q.Categories)
	}
}
