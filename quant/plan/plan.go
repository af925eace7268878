package plan

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hyquant/hyquant/internal/yamlx"
	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/quant/rotation"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// Plan maps parameter categories to precisions. Categories it does not name
// are kept as stored (or follow Default when set).
type Plan struct {
	Name        string
	Description string
	Source      string // file the plan was read from, or "inline"
	Default     *quant.Spec
	Categories  map[runtime.Category]quant.Spec
	// Recipe, when set, gives every tensor llama-quantize's type first;
	// Categories then override it for the categories they name.
	Recipe *Recipe
	// Overrides give chosen layers and tensors their own spec, last.
	Overrides []Override
	// Rotation, when set, rotates the residual stream and fuses the
	// rotation into the weights before anything is calibrated or quantised
	// (Rotate).
	Rotation *rotation.Options
	// Origin says what wrote the plan, when a tool did (OriginSearch); it
	// changes nothing in what the plan does.
	Origin string
	where  map[runtime.Category]yamlx.Node // for resolution errors
}

// OriginSearch is the origin of the plans `hyquant search` writes.
const OriginSearch = "hyquant search"

// LoadPlan reads a plan YAML file.
func LoadPlan(path string) (*Plan, error) {
	m, err := yamlx.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := ParsePlan(m)
	if err != nil {
		return nil, err
	}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	return p, nil
}

// ParsePlan reads a plan from a YAML mapping with the fields name,
// description, default and categories.
func ParsePlan(m *yamlx.Map) (*Plan, error) {
	p := &Plan{Source: m.File, Categories: map[runtime.Category]quant.Spec{}, where: map[runtime.Category]yamlx.Node{}}
	var err error
	if p.Name, err = m.String("name", ""); err != nil {
		return nil, err
	}
	if p.Description, err = m.String("description", ""); err != nil {
		return nil, err
	}
	if p.Origin, err = m.String("origin", ""); err != nil {
		return nil, err
	}
	if n, ok := m.Get("default"); ok {
		s, err := ParseSpec(n)
		if err != nil {
			return nil, err
		}
		p.Default = &s
	}
	if n, ok := m.Get("llama_recipe"); ok {
		if p.Recipe, err = parseRecipe(n); err != nil {
			return nil, err
		}
	}
	if n, ok := m.Get("overrides"); ok {
		if p.Overrides, err = parseOverrides(n); err != nil {
			return nil, err
		}
	}
	if n, ok := m.Get("residual_rotation"); ok {
		if p.Rotation, err = parseRotation(n); err != nil {
			return nil, err
		}
	}
	cm := &yamlx.Map{}
	if cats, ok := m.Get("categories"); ok || p.Recipe == nil {
		if !ok {
			return nil, fmt.Errorf("%s: missing required field \"categories\" (or llama_recipe)", m.File)
		}
		if cm, err = cats.Map(); err != nil {
			return nil, err
		}
	}
	for _, key := range cm.Keys() {
		n, _ := cm.Get(key)
		c, err := runtime.ParseCategory(key)
		if err != nil {
			return nil, cm.Key(key).Errorf("%v", err)
		}
		s, err := ParseSpec(n)
		if err != nil {
			return nil, err
		}
		p.Categories[c] = s
		p.where[c] = n
	}
	if err := m.Done("name", "description", "origin", "default", "categories", "llama_recipe", "overrides", "residual_rotation"); err != nil {
		return nil, err
	}
	return p, nil
}

// specFields are the keys every quantising spec accepts.
var specFields = []string{"method", "bits", "granularity", "symmetric", "scale_dtype", "act_bits", "act_mode"}

// optionParsers read the method-specific options into a Spec.
var optionParsers = map[string]func(n yamlx.Node, s *quant.Spec) error{
	"damp":          func(n yamlx.Node, s *quant.Spec) (err error) { s.Damp, err = n.Float(); return },
	"act_order":     func(n yamlx.Node, s *quant.Spec) (err error) { s.ActOrder, err = n.Bool(); return },
	"static_groups": func(n yamlx.Node, s *quant.Spec) (err error) { s.StaticGroups, err = n.Bool(); return },
	"block_size":    func(n yamlx.Node, s *quant.Spec) (err error) { s.BlockSize, err = n.Int(); return },
	"rotation":      func(n yamlx.Node, s *quant.Spec) (err error) { s.Rotation, err = n.Text(); return },
	"rounding":      func(n yamlx.Node, s *quant.Spec) (err error) { s.Rounding, err = n.Text(); return },
	"seed": func(n yamlx.Node, s *quant.Spec) error {
		v, err := n.Int()
		s.Seed = int64(v)
		return err
	},
	"smooth": func(n yamlx.Node, s *quant.Spec) (err error) { s.Smooth, err = n.Float(); return },
	"type": func(n yamlx.Node, s *quant.Spec) error {
		v, err := n.Text()
		if err != nil {
			return err
		}
		if s.GGMLType, err = ggml.ParseType(v); err != nil {
			return n.Errorf("%v", err)
		}
		return nil
	},
	"imatrix": func(n yamlx.Node, s *quant.Spec) (err error) { s.Imatrix, err = n.Bool(); return },
}

// ParseSpec reads one category's precision: the scalar `keep`, a mapping
// `{keep: true|bf16|fp16|fp32}`, or a quantising mapping such as
// `{method: rtn, bits: 4, granularity: group:128, symmetric: true, scale_dtype: fp16}`.
// Defaults: method rtn, granularity channel, symmetric true, scale_dtype fp16.
func ParseSpec(n yamlx.Node) (quant.Spec, error) {
	if n.IsScalar() {
		v, _ := n.Text()
		if v == "keep" {
			return quant.KeepSpec, nil
		}
		return quant.Spec{}, n.Errorf("expected `keep` or a mapping of precision fields, found %q", v)
	}
	m, err := n.Map()
	if err != nil {
		return quant.Spec{}, err
	}
	if k, ok := m.Get("keep"); ok {
		s := quant.KeepSpec
		v, _ := k.Text()
		switch b, berr := k.Bool(); {
		case berr == nil && b:
		case berr == nil && !b:
			return quant.Spec{}, k.Errorf("keep: false is meaningless; give the quantisation fields instead")
		default:
			d, err := quant.ParseFloatDType(v)
			if err != nil {
				return quant.Spec{}, k.Errorf("keep must be true or a dtype to cast to: %v", err)
			}
			s.KeepDType = d
		}
		return s, m.Done("keep")
	}

	s := quant.Spec{Method: "rtn", Granularity: grid.Granularity{Kind: grid.PerChannel}, Symmetric: true, ScaleDType: safetensors.F16}
	if s.Method, err = m.String("method", s.Method); err != nil {
		return quant.Spec{}, err
	}
	method, err := lookupMethod(s.Method)
	if err != nil {
		return quant.Spec{}, m.Key("method").Errorf("%v", err)
	}
	bitsNode, hasBits := m.Get("bits")
	if hasBits {
		if s.Bits, err = bitsNode.Int(); err != nil {
			return quant.Spec{}, err
		}
		if s.Bits <= 0 {
			return quant.Spec{}, bitsNode.Errorf("bits %d is out of range: a bit width is positive (rtn, gptq and mambaquant take 2..8; channel8 is 8; leave it out for channel8 and ggml)", s.Bits)
		}
	}
	if g, ok := m.Get("granularity"); ok {
		v, err := g.Text()
		if err != nil {
			return quant.Spec{}, err
		}
		if s.Granularity, err = grid.ParseGranularity(v); err != nil {
			return quant.Spec{}, g.Errorf("%v", err)
		}
	}
	if s.Symmetric, err = m.Bool("symmetric", true); err != nil {
		return quant.Spec{}, err
	}
	if d, ok := m.Get("scale_dtype"); ok {
		v, err := d.Text()
		if err != nil {
			return quant.Spec{}, err
		}
		if s.ScaleDType, err = quant.ParseFloatDType(v); err != nil {
			return quant.Spec{}, d.Errorf("%v", err)
		}
	}
	if s.ActBits, err = m.Int("act_bits", 0); err != nil {
		return quant.Spec{}, err
	}
	if s.ActMode, err = m.String("act_mode", ""); err != nil {
		return quant.Spec{}, err
	}
	if err := quant.CheckActivation(&s); err != nil {
		return quant.Spec{}, n.Errorf("%v", err)
	}
	known := append([]string(nil), specFields...)
	for _, opt := range method.Options() {
		known = append(known, opt)
		if v, ok := m.Get(opt); ok {
			if err := optionParsers[opt](v, &s); err != nil {
				return quant.Spec{}, err
			}
		}
	}
	for _, k := range m.Keys() {
		if _, isOpt := optionParsers[k]; isOpt && !contains(method.Options(), k) {
			return quant.Spec{}, m.Key(k).Errorf("is not an option of method %s (its options: %s)", s.Method, orNone(method.Options()))
		}
	}
	if err := m.Done(known...); err != nil {
		return quant.Spec{}, err
	}
	if s.Bits == 0 && s.Method != "channel8" && s.Method != quant.GGMLMethod {
		return quant.Spec{}, n.Errorf("missing required field \"bits\"")
	}
	if err := method.Prepare(&s); err != nil {
		return quant.Spec{}, n.Errorf("%v", err)
	}
	return s, nil
}

func lookupMethod(name string) (quant.Method, error) {
	m, ok := quant.Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown method %q (known: %s)", name, strings.Join(quant.MethodNames(), ", "))
	}
	return m, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func orNone(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return strings.Join(list, ", ")
}

// SpecFor returns the spec of a category under this plan.
func (p *Plan) SpecFor(c runtime.Category) quant.Spec {
	if s, ok := p.Categories[c]; ok {
		return s
	}
	if p.Default != nil {
		return *p.Default
	}
	return quant.KeepSpec
}

// Resolved is a plan applied to one model: every parameter with its spec.
type Resolved struct {
	Plan        *Plan
	Inventory   *runtime.Inventory
	Assignments []quant.Assignment
}

// Resolve applies the plan to every parameter of an inventory. stored gives
// each tensor's dtype in the checkpoint. Biases are always kept; a spec whose
// group size does not divide a tensor's input dimension is an error naming the
// plan line, the category and the tensor.
func (p *Plan) Resolve(inv *runtime.Inventory, stored func(name string) safetensors.DType) (*Resolved, error) {
	r := &Resolved{Plan: p, Inventory: inv}
	var recipe map[string]quant.Spec
	if p.Recipe != nil {
		var err error
		if recipe, err = p.Recipe.specs(inv.Config); err != nil {
			return nil, err
		}
	}
	for _, prm := range inv.Params {
		s := p.SpecFor(prm.Category)
		if _, named := p.Categories[prm.Category]; recipe != nil && !named {
			s = recipe[prm.Name]
		}
		for _, o := range p.Overrides {
			if o.matches(prm) {
				s = o.Spec
			}
		}
		rows, cols := grid.MatrixShape(prm.Shape)
		if strings.HasSuffix(prm.Name, ".bias") && !s.Keep {
			s = quant.KeepSpec // biases are kept (a recipe keeps them in F32)
		}
		if !s.Keep {
			if err := p.check(prm, s, rows, cols); err != nil {
				return nil, err
			}
		}
		r.Assignments = append(r.Assignments, quant.Assignment{Param: prm, Stored: stored(prm.Name), Spec: s, Rows: rows, Cols: cols})
	}
	return r, nil
}

func (p *Plan) check(prm runtime.Param, s quant.Spec, rows, cols int) error {
	fail := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		if n, ok := p.where[prm.Category]; ok {
			return n.Errorf("%s", msg)
		}
		return fmt.Errorf("%s: plan %q: %s: %s", p.Source, p.Name, prm.Category, msg)
	}
	if s.Granularity.Kind == grid.PerGroup && cols%s.Granularity.GroupSize != 0 {
		return fail("group size %d does not divide the input dimension %d of %s %v", s.Granularity.GroupSize, cols, prm.Name, prm.Shape)
	}
	if s.Method == quant.GGMLMethod {
		if _, err := s.GGMLType.RowBytes(int64(cols)); err != nil {
			return fail("%v (%s %v)", err, prm.Name, prm.Shape)
		}
	}
	if s.ActBits > 0 && !prm.Matrix {
		return fail("act_bits applies to the inputs of linear layers; %s is not one", prm.Name)
	}
	if m, _ := quant.Lookup(s.Method); m != nil {
		if mo, ok := m.(interface{ MatrixOnly() bool }); ok && mo.MatrixOnly() && !prm.Matrix {
			return fail("method %s quantises linear-layer weights only; %s is not one (use rtn or channel8 for it)", s.Method, prm.Name)
		}
	}
	return nil
}

// CategoryBytes is the footprint of one category before and after.
type CategoryBytes struct {
	Category  runtime.Category
	Params    int64
	Baseline  int64
	Quantized int64
	Spec      quant.Spec     // the category's spec (the most common one, with a recipe or overrides)
	Specs     map[string]int // tensors per distinct spec, when they differ
}

// Precision describes the category's precision: its spec, or each distinct
// spec with its tensor count ("ggml q4_K ×5, ggml q6_K ×4").
func (c CategoryBytes) Precision() string {
	if len(c.Specs) <= 1 {
		return c.Spec.String()
	}
	keys := make([]string, 0, len(c.Specs))
	for k := range c.Specs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if c.Specs[keys[i]] != c.Specs[keys[j]] {
			return c.Specs[keys[i]] > c.Specs[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, c.Specs[k])
	}
	return strings.Join(parts, ", ")
}

// Footprint is the exact size of the model before and after the plan.
type Footprint struct {
	Baseline   int64
	Quantized  int64
	Categories []CategoryBytes
}

// Reduction is 1 - Quantized/Baseline.
func (f Footprint) Reduction() float64 {
	if f.Baseline == 0 {
		return 0
	}
	return 1 - float64(f.Quantized)/float64(f.Baseline)
}

// Footprint sums the exact bytes of every stored tensor, per category: codes,
// scales, zero points and auxiliary tensors included, nothing rounded.
func (r *Resolved) Footprint() Footprint {
	byCat := map[runtime.Category]*CategoryBytes{}
	var f Footprint
	for _, a := range r.Assignments {
		cb := byCat[a.Param.Category]
		if cb == nil {
			cb = &CategoryBytes{Category: a.Param.Category, Spec: r.Plan.SpecFor(a.Param.Category), Specs: map[string]int{}}
			byCat[a.Param.Category] = cb
		}
		if !strings.HasSuffix(a.Param.Name, ".bias") {
			cb.Specs[a.Spec.String()]++
			if len(cb.Specs) == 1 || cb.Specs[a.Spec.String()] > cb.Specs[cb.Spec.String()] {
				cb.Spec = a.Spec
			}
		}
		base := a.Param.NumElements() * int64(a.Stored.Size())
		q := quant.LayoutBytes(a)
		cb.Params += a.Param.NumElements()
		cb.Baseline += base
		cb.Quantized += q
		f.Baseline += base
		f.Quantized += q
	}
	for _, c := range runtime.Categories {
		if cb := byCat[c]; cb != nil {
			f.Categories = append(f.Categories, *cb)
		}
	}
	return f
}

// TensorSpecs lists every tensor a quantised checkpoint under this plan
// holds, in inventory order.
func (r *Resolved) TensorSpecs() []safetensors.TensorSpec {
	var out []safetensors.TensorSpec
	for _, a := range r.Assignments {
		out = append(out, quant.Layout(a)...)
	}
	return out
}

// QuantizedCount is the number of parameters the plan quantises.
func (r *Resolved) QuantizedCount() int {
	n := 0
	for _, a := range r.Assignments {
		if !a.Spec.Keep {
			n++
		}
	}
	return n
}

// NeedsCalibration reports whether any tensor's method needs calibration
// statistics, or a static activation scale must be measured.
func (r *Resolved) NeedsCalibration() bool {
	for _, a := range r.Assignments {
		if !a.Spec.Keep && a.NeedsCalibration() {
			return true
		}
	}
	return false
}

// UseImatrix gives every tensor whose spec asks for an importance matrix
// the weights of a llama.cpp imatrix file (by GGUF tensor name, as
// llama-imatrix writes them), so no calibration is needed. A tensor the
// file lacks is quantised without one, as llama-quantize does (token_embd
// is never in an imatrix), unless its type needs one: then it is an error
// naming it.
func (r *Resolved) UseImatrix(weights map[string][]float32, file string) error {
	names := map[string]string{}
	for _, n := range runtime.GGUFNames(r.Inventory.Config) {
		names[n.Hub] = n.GGUF
	}
	for i := range r.Assignments {
		a := &r.Assignments[i]
		if a.Spec.Keep || !a.Spec.Imatrix {
			continue
		}
		w, ok := weights[names[a.Param.Name]]
		if !ok {
			if a.Spec.Method == quant.GGMLMethod && ggmlNeedsImatrix(a.Spec.GGMLType) {
				return fmt.Errorf("%s has no importance matrix for %s (%s), and %s cannot be made without one", file, names[a.Param.Name], a.Param.Name, a.Spec.GGMLType)
			}
			a.Spec.Imatrix = false
			continue
		}
		if len(w) != a.Cols {
			return fmt.Errorf("%s: importance matrix of %s has %d values, the tensor has %d columns", file, names[a.Param.Name], len(w), a.Cols)
		}
		a.Importance = w
	}
	return nil
}

// ggmlNeedsImatrix is llama-quantize's list of types it refuses to make
// without an importance matrix.
func ggmlNeedsImatrix(t ggml.Type) bool {
	switch t {
	case ggml.IQ2_XXS, ggml.IQ2_XS, ggml.IQ2_S, ggml.IQ3_XXS, ggml.IQ1_S, ggml.IQ1_M:
		return true
	}
	return false
}

// ResolveYAML reads a plan from YAML source (file names it in errors) and
// resolves it on a model's files, against their stored dtypes.
func ResolveYAML(src []byte, file string, mf *runtime.ModelFiles) (*Resolved, error) {
	m, err := yamlx.Parse(src, file)
	if err != nil {
		return nil, err
	}
	p, err := ParsePlan(m)
	if err != nil {
		return nil, err
	}
	dt, err := mf.StoredDTypes(nil)
	if err != nil {
		return nil, err
	}
	return p.Resolve(runtime.BuildInventory(mf.Config), dt)
}
