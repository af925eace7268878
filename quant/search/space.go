package search

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// Space is what a search chooses among: every projection's weight and the
// token embedding (lm_head included; all of them "tensors" here), each with
// the formats its shape allows. Everything else (norms, convolutions, the
// SSM core, biases) is fixed: kept in F32 as llama.cpp's files keep it, so
// a searched plan exports like a recipe.
type Space struct {
	Inventory *runtime.Inventory
	Formats   []Format
	Tensors   []Tensor
	Fixed     int64 // bytes of the tensors not searched
	Stored    int64 // bytes of every tensor as stored
	Rounding  string
	Damp      float64
	stored    func(string) safetensors.DType
}

// Tensor is one searched tensor and its choices.
type Tensor struct {
	Param      runtime.Param
	Stored     safetensors.DType
	Rows, Cols int
	Options    []Choice // the formats its shape allows, in the space's order
	order      []int    // Options' indices by bytes (ties in the space's order)
}

// Choice is one format for one tensor, with its exact bytes.
type Choice struct {
	Format Format
	Spec   quant.Spec
	Bytes  int64
}

// FixedSpec is the spec of every tensor a search does not choose for.
var FixedSpec = quant.Spec{Keep: true, KeepDType: safetensors.F32}

// NewSpace lists the searched tensors of a model and their choices.
// stored gives each tensor's dtype in the checkpoint.
func NewSpace(inv *runtime.Inventory, stored func(string) safetensors.DType, formats []Format, rounding string, damp float64) (*Space, error) {
	if rounding != RoundGPTQ && rounding != RoundRTN {
		return nil, fmt.Errorf("method %q is not %s or %s", rounding, RoundGPTQ, RoundRTN)
	}
	if inv.Config.TieWordEmbeddings {
		return nil, fmt.Errorf("the model ties lm_head to the token embedding: one tensor in two roles, which the search does not measure yet (its sensitivities would see only the embedding's)")
	}
	s := &Space{Inventory: inv, Formats: formats, Rounding: rounding, Damp: damp, stored: stored}
	for _, p := range inv.Params {
		st := stored(p.Name)
		rows, cols := grid.MatrixShape(p.Shape)
		s.Stored += p.NumElements() * int64(st.Size())
		if !searched(p) {
			s.Fixed += quant.LayoutBytes(fixedAssignment(p, st, rows, cols))
			continue
		}
		t := Tensor{Param: p, Stored: st, Rows: rows, Cols: cols}
		for _, f := range formats {
			if f.Keep == "" {
				if _, err := f.Type.RowBytes(int64(cols)); err != nil {
					continue // the block does not divide the row
				}
			}
			spec, err := f.Spec(p, rounding, damp)
			if err != nil {
				return nil, err
			}
			a := quant.Assignment{Param: p, Stored: st, Spec: spec, Rows: rows, Cols: cols}
			t.Options = append(t.Options, Choice{Format: f, Spec: spec, Bytes: quant.LayoutBytes(a)})
		}
		if len(t.Options) == 0 {
			return nil, fmt.Errorf("%s %v: none of the formats %s fits its rows of %d", p.Name, p.Shape, formatNames(formats), cols)
		}
		opts := make([]Option, len(t.Options))
		for k, c := range t.Options {
			opts[k] = Option{Bytes: c.Bytes}
		}
		t.order = byBytes(opts)
		s.Tensors = append(s.Tensors, t)
	}
	if len(s.Tensors) == 0 {
		return nil, fmt.Errorf("the model has no tensor to search over")
	}
	return s, nil
}

// searched reports whether a search chooses the precision of a parameter:
// the projections' weights (biases are not Matrix) and the embedding.
func searched(p runtime.Param) bool {
	return p.Matrix || p.Category == runtime.Embedding
}

func fixedAssignment(p runtime.Param, st safetensors.DType, rows, cols int) quant.Assignment {
	return quant.Assignment{Param: p, Stored: st, Spec: FixedSpec, Rows: rows, Cols: cols}
}

func formatNames(fs []Format) string {
	n := make([]string, len(fs))
	for i, f := range fs {
		n[i] = f.Name
	}
	return strings.Join(n, ",")
}

// Items is the knapsack over the space: one item per tensor, one option per
// choice, with costs from sens (sens[t][k] for tensor t's choice k).
func (s *Space) Items(sens [][]float64) [][]Option {
	items := make([][]Option, len(s.Tensors))
	for t, tt := range s.Tensors {
		for k, c := range tt.Options {
			items[t] = append(items[t], Option{Bytes: c.Bytes, Cost: sens[t][k]})
		}
	}
	return items
}

// Bytes is an assignment's exact tensor bytes, the fixed tensors included.
func (s *Space) Bytes(pick []int) int64 {
	b := s.Fixed
	for t, k := range pick {
		b += s.Tensors[t].Options[k].Bytes
	}
	return b
}

// Smallest is the least bytes any assignment takes.
func (s *Space) Smallest() int64 {
	b := s.Fixed
	for _, t := range s.Tensors {
		b += t.Options[t.order[0]].Bytes
	}
	return b
}

// Choices is the number of (tensor, format) choices of the space.
func (s *Space) Choices() int {
	n := 0
	for _, t := range s.Tensors {
		n += len(t.Options)
	}
	return n
}

// Key names an assignment: tensor=format per searched tensor.
func (s *Space) Key(pick []int) string {
	var b strings.Builder
	for t, k := range pick {
		fmt.Fprintf(&b, "%s=%s\n", s.Tensors[t].Param.Name, s.Tensors[t].Options[k].Format.Name)
	}
	return b.String()
}

// Names lists an assignment as tensor name → format name (for records).
func (s *Space) Names(pick []int) map[string]string {
	out := map[string]string{}
	for t, k := range pick {
		out[s.Tensors[t].Param.Name] = s.Tensors[t].Options[k].Format.Name
	}
	return out
}

// FromNames reads an assignment back from Names; it fails when the space
// has changed under the record.
func (s *Space) FromNames(names map[string]string) ([]int, error) {
	pick := make([]int, len(s.Tensors))
	for t, tt := range s.Tensors {
		f, ok := names[tt.Param.Name]
		k := -1
		for i, c := range tt.Options {
			if c.Format.Name == f {
				k = i
			}
		}
		if !ok || k < 0 {
			return nil, fmt.Errorf("record has no usable format for %s (%q)", tt.Param.Name, f)
		}
		pick[t] = k
	}
	return pick, nil
}

// Plan turns an assignment into a plan: every fixed tensor kept in F32
// (the plan's default), every searched tensor its own override. Resolved on
// the model it has exactly Bytes(pick) tensor bytes.
func (s *Space) Plan(pick []int, name, description string) *plan.Plan {
	p := &plan.Plan{Name: name, Description: description, Origin: plan.OriginSearch, Source: "search", Categories: map[runtime.Category]quant.Spec{}}
	def := FixedSpec
	p.Default = &def
	for t, k := range pick {
		tt := s.Tensors[t]
		re := regexp.MustCompile("^" + regexp.QuoteMeta(tt.Param.Name) + "$")
		p.Overrides = append(p.Overrides, plan.Override{Tensors: re, Spec: tt.Options[k].Spec})
	}
	return p
}

// CheckPlan resolves an assignment's plan on the model and confirms that
// its footprint is the space's byte count: the bytes a search optimises
// are the bytes `hyquant plan` reports.
func (s *Space) CheckPlan(p *plan.Plan, pick []int) (*plan.Resolved, error) {
	r, err := p.Resolve(s.Inventory, s.stored)
	if err != nil {
		return nil, err
	}
	if got, want := r.Footprint().Quantized, s.Bytes(pick); got != want {
		return nil, fmt.Errorf("internal error: the searched plan resolves to %d bytes, the search counted %d", got, want)
	}
	return r, nil
}
