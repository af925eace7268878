package plan

import (
	"fmt"
	"strings"

	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/runtime"
)

// YAML renders the plan as a plan file that LoadPlan reads back to the same
// plan, every spec field explicit (no defaults left implicit).
func (p *Plan) YAML() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "name: %q\n", p.Name)
	if p.Description != "" {
		fmt.Fprintf(&b, "description: %q\n", p.Description)
	}
	if p.Origin != "" {
		fmt.Fprintf(&b, "origin: %q\n", p.Origin)
	}
	if p.Rotation != nil {
		fmt.Fprintf(&b, "residual_rotation: %s\n", rotationYAML(p.Rotation))
	}
	if p.Default != nil {
		fmt.Fprintf(&b, "default: %s\n", specYAML(*p.Default))
	}
	if r := p.Recipe; r != nil {
		fmt.Fprintf(&b, "llama_recipe: {recipe: %s, imatrix: %v", r.Recipe.Name, r.Imatrix)
		if r.Rounding != "" {
			fmt.Fprintf(&b, ", rounding: %s", r.Rounding)
		}
		if r.Damp != 0 {
			fmt.Fprintf(&b, ", damp: %g", r.Damp)
		}
		b.WriteString("}\n")
	}
	switch {
	case len(p.Categories) > 0:
		b.WriteString("categories:\n")
	case p.Recipe == nil:
		b.WriteString("categories: {}\n") // required without a recipe; the default and overrides say it all
	}
	for _, c := range runtime.Categories {
		if s, ok := p.Categories[c]; ok {
			fmt.Fprintf(&b, "  %s: %s\n", c, specYAML(s))
		}
	}
	if len(p.Overrides) > 0 {
		b.WriteString("overrides:\n")
	}
	for _, o := range p.Overrides {
		b.WriteString("  - {")
		if len(o.Layers) > 0 {
			fmt.Fprintf(&b, "layers: %s, ", strings.Join(strings.Fields(fmt.Sprint(o.Layers)), ", "))
		}
		if len(o.Categories) > 0 {
			cs := make([]string, len(o.Categories))
			for i, c := range o.Categories {
				cs[i] = string(c)
			}
			fmt.Fprintf(&b, "categories: [%s], ", strings.Join(cs, ", "))
		}
		if o.Tensors != nil {
			fmt.Fprintf(&b, "tensors: %q, ", o.Tensors.String())
		}
		fmt.Fprintf(&b, "spec: %s}\n", specYAML(o.Spec))
	}
	return []byte(b.String())
}

func specYAML(s quant.Spec) string {
	if s.Keep {
		if s.KeepDType == "" {
			return "keep"
		}
		return fmt.Sprintf("{keep: %s}", quant.FloatDTypeName(s.KeepDType))
	}
	if s.Method == quant.GGMLMethod {
		if s.Rounding == quant.RoundingGPTQ {
			return fmt.Sprintf("{method: ggml, type: %s, imatrix: %v, rounding: gptq, damp: %g, block_size: %d}", s.GGMLType, s.Imatrix, s.Damp, s.BlockSize)
		}
		return fmt.Sprintf("{method: ggml, type: %s, imatrix: %v}", s.GGMLType, s.Imatrix)
	}
	f := []string{
		"method: " + s.Method,
		fmt.Sprintf("bits: %d", s.Bits),
		fmt.Sprintf("granularity: %q", s.Granularity.String()),
		fmt.Sprintf("symmetric: %v", s.Symmetric),
		"scale_dtype: " + quant.FloatDTypeName(s.ScaleDType),
	}
	m, _ := quant.Lookup(s.Method)
	for _, opt := range m.Options() {
		switch opt {
		case "damp":
			f = append(f, fmt.Sprintf("damp: %g", s.Damp))
		case "act_order":
			f = append(f, fmt.Sprintf("act_order: %v", s.ActOrder))
		case "static_groups":
			f = append(f, fmt.Sprintf("static_groups: %v", s.StaticGroups))
		case "block_size":
			f = append(f, fmt.Sprintf("block_size: %d", s.BlockSize))
		case "rotation":
			f = append(f, "rotation: "+s.Rotation)
		case "rounding":
			f = append(f, "rounding: "+s.Rounding)
		case "seed":
			f = append(f, fmt.Sprintf("seed: %d", s.Seed))
		case "smooth":
			f = append(f, fmt.Sprintf("smooth: %g", s.Smooth))
		}
	}
	if s.ActBits > 0 {
		f = append(f, fmt.Sprintf("act_bits: %d", s.ActBits), "act_mode: "+s.ActMode)
	}
	return "{" + strings.Join(f, ", ") + "}"
}
