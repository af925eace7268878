package plan

import (
	"regexp"
	"slices"

	"github.com/hyquant/hyquant/internal/yamlx"
	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/plans/llamacpp"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// Override gives chosen tensors their own spec, over the category
// defaults: the tensors of the listed layers (block indices; empty = all)
// and categories (empty = all) whose Hub name matches Tensors (a regular
// expression; empty = all). Later overrides win over earlier ones.
type Override struct {
	Layers     []int
	Categories []runtime.Category
	Tensors    *regexp.Regexp
	Spec       quant.Spec
	where      yamlx.Node
}

func (o Override) matches(p runtime.Param) bool {
	return (len(o.Layers) == 0 || slices.Contains(o.Layers, p.Layer)) &&
		(len(o.Categories) == 0 || slices.Contains(o.Categories, p.Category)) &&
		(o.Tensors == nil || o.Tensors.MatchString(p.Name))
}

// Recipe is a llama-quantize recipe a plan starts from: every tensor gets
// the type llama-quantize gives it (plans/llamacpp), quantised with method
// ggml; the tensors llama-quantize never quantises are kept in F32, as in
// its files, so the plan's bytes are those of llama-quantize's file.
type Recipe struct {
	Recipe  llamacpp.Recipe
	Imatrix bool // llama-quantize's choices with --imatrix, and importance-weighted rounding
	// Rounding is how the projections' codes are chosen within their
	// types: "" (llama-quantize's rounding) or gptq (RoundGPTQBlocks); the
	// token embedding, which has no input statistics, keeps llama-quantize's.
	Rounding string
	Damp     float64 // with gptq: GPTQ's dampening (0 = the default)
	where    yamlx.Node
}

func parseOverrides(n yamlx.Node) ([]Override, error) {
	items, err := n.Seq()
	if err != nil {
		return nil, err
	}
	var out []Override
	for _, it := range items {
		m, err := it.Map()
		if err != nil {
			return nil, err
		}
		o := Override{where: it}
		if l, ok := m.Get("layers"); ok {
			ls, err := l.Seq()
			if err != nil {
				return nil, err
			}
			for _, x := range ls {
				v, err := x.Int()
				if err != nil {
					return nil, err
				}
				o.Layers = append(o.Layers, v)
			}
		}
		if c, ok := m.Get("categories"); ok {
			cs, err := c.Seq()
			if err != nil {
				return nil, err
			}
			for _, x := range cs {
				v, err := x.Text()
				if err != nil {
					return nil, err
				}
				cat, err := runtime.ParseCategory(v)
				if err != nil {
					return nil, x.Errorf("%v", err)
				}
				o.Categories = append(o.Categories, cat)
			}
		}
		if t, ok := m.Get("tensors"); ok {
			v, err := t.Text()
			if err != nil {
				return nil, err
			}
			if o.Tensors, err = regexp.Compile(v); err != nil {
				return nil, t.Errorf("tensors: not a regular expression: %v", err)
			}
		}
		sn, err := m.Require("spec")
		if err != nil {
			return nil, err
		}
		if o.Spec, err = ParseSpec(sn); err != nil {
			return nil, err
		}
		if err := m.Done("layers", "categories", "tensors", "spec"); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func parseRecipe(n yamlx.Node) (*Recipe, error) {
	r := &Recipe{where: n}
	var name string
	var err error
	if n.IsScalar() {
		name, err = n.Text()
	} else {
		m, merr := n.Map()
		if merr != nil {
			return nil, merr
		}
		if name, err = m.String("recipe", ""); err != nil {
			return nil, err
		}
		if r.Imatrix, err = m.Bool("imatrix", false); err != nil {
			return nil, err
		}
		if r.Rounding, err = m.String("rounding", ""); err != nil {
			return nil, err
		}
		if r.Rounding != "" && r.Rounding != quant.RoundingRTN && r.Rounding != quant.RoundingGPTQ {
			return nil, m.Key("rounding").Errorf("llama_recipe rounding %q is not %s or %s", r.Rounding, quant.RoundingRTN, quant.RoundingGPTQ)
		}
		if r.Damp, err = m.Float("damp", 0); err != nil {
			return nil, err
		}
		if r.Damp != 0 && r.Rounding != quant.RoundingGPTQ {
			return nil, m.Key("damp").Errorf("llama_recipe damp applies to rounding: gptq only")
		}
		err = m.Done("recipe", "imatrix", "rounding", "damp")
	}
	if err != nil {
		return nil, err
	}
	if r.Recipe, err = llamacpp.Lookup(name); err != nil {
		return nil, n.Errorf("%v", err)
	}
	return r, nil
}

// recipeSpecs resolves a recipe on a model: Hub name → spec.
func (r *Recipe) specs(c *runtime.Config) (map[string]quant.Spec, error) {
	layout, err := llamacpp.Assign(c, r.Recipe, ggml.BF16, llamacpp.Options{Imatrix: r.Imatrix})
	if err != nil {
		return nil, r.where.Errorf("%v", err)
	}
	inv := runtime.BuildInventory(c)
	out := map[string]quant.Spec{}
	for _, t := range layout {
		s := quant.Spec{Keep: true, KeepDType: safetensors.F32}
		if d, isFloat := runtime.GGMLFloatDType(t.Type); isFloat {
			s.KeepDType = d // what llama-quantize leaves unquantised (F32 but for fallbacks to F16)
		} else {
			// The token embedding is looked up, not multiplied: no input
			// statistics, so no importance matrix (llama.cpp's imatrix has
			// no entry for it either).
			p, _ := inv.Lookup(t.Hub)
			s = quant.Spec{Method: quant.GGMLMethod, GGMLType: t.Type, Imatrix: r.Imatrix && p.Matrix}
			if p.Matrix && r.Rounding == quant.RoundingGPTQ {
				s.Rounding, s.Damp = quant.RoundingGPTQ, r.Damp
			}
			if err := (quant.GGML{}).Prepare(&s); err != nil {
				return nil, r.where.Errorf("tensor %s: %v", t.GGUF, err)
			}
		}
		out[t.Hub] = s
	}
	return out, nil
}

func (r *Recipe) String() string {
	s := r.Recipe.Name
	if r.Imatrix {
		s += " (imatrix)"
	}
	if r.Rounding == quant.RoundingGPTQ {
		s += " (gptq)"
	}
	return s
}
