package runtime

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hyquant/hyquant/runtime/safetensors"
)

// Category groups parameters that play the same role; precision plans are
// written per category.
type Category string

// The parameter categories of a NemotronH model.
const (
	SSMInProj  Category = "ssm_in_proj"  // Mamba2 in_proj (gate, x, B, C, dt)
	SSMOutProj Category = "ssm_out_proj" // Mamba2 out_proj
	SSMConv1d  Category = "ssm_conv1d"   // depthwise causal conv weight and bias
	SSMNorm    Category = "ssm_norm"     // gated RMSNorm weight
	SSMCore    Category = "ssm_core"     // A_log, D, dt_bias: bare nn.Parameters
	MLPUp      Category = "mlp_up"
	MLPDown    Category = "mlp_down"
	AttnQ      Category = "attn_q"
	AttnK      Category = "attn_k"
	AttnV      Category = "attn_v"
	AttnO      Category = "attn_o"
	Embedding  Category = "embedding"
	LMHead     Category = "lm_head"
	BlockNorm  Category = "block_norm" // the RMSNorm before each mixer
	FinalNorm  Category = "final_norm" // backbone.norm_f
)

// Categories lists every category in display order.
var Categories = []Category{
	SSMInProj, SSMOutProj, SSMConv1d, SSMNorm, SSMCore,
	MLPUp, MLPDown,
	AttnQ, AttnK, AttnV, AttnO,
	Embedding, LMHead, BlockNorm, FinalNorm,
}

// ParseCategory checks a category name.
func ParseCategory(s string) (Category, error) {
	for _, c := range Categories {
		if string(c) == s {
			return c, nil
		}
	}
	names := make([]string, len(Categories))
	for i, c := range Categories {
		names[i] = string(c)
	}
	return "", fmt.Errorf("unknown category %q (known: %s)", s, strings.Join(names, ", "))
}

// Rollup is the coarse group a category belongs to: SSM, MLP, attention or other.
func (c Category) Rollup() string {
	switch c {
	case SSMInProj, SSMOutProj, SSMConv1d, SSMNorm, SSMCore:
		return "SSM"
	case MLPUp, MLPDown:
		return "MLP"
	case AttnQ, AttnK, AttnV, AttnO:
		return "attention"
	}
	return "other"
}

// Rollups lists the rollup groups in display order.
var Rollups = []string{"SSM", "MLP", "attention", "other"}

// Param is one named parameter of the model.
type Param struct {
	Name     string
	Shape    []int
	Category Category
	Layer    int // block index, or -1 for embeddings, norm_f and lm_head
	// Matrix is true for the weight of a linear projection (the tensors
	// GEMM-style quantizers work on); false for vectors, conv kernels, biases.
	Matrix bool
}

// NumElements is the product of the shape.
func (p Param) NumElements() int64 {
	n := int64(1)
	for _, d := range p.Shape {
		n *= int64(d)
	}
	return n
}

// Inventory is the complete list of named parameters a config implies,
// named exactly as in the Hugging Face checkpoint.
type Inventory struct {
	Config *Config
	Params []Param
	byName map[string]int
}

// BuildInventory derives every parameter of the model from its config,
// including the bare nn.Parameters (A_log, D, dt_bias) that a walk over
// modules misses.
func BuildInventory(c *Config) *Inventory {
	inv := &Inventory{Config: c, byName: map[string]int{}}
	add := func(name string, cat Category, layer int, matrix bool, shape ...int) {
		inv.byName[name] = len(inv.Params)
		inv.Params = append(inv.Params, Param{Name: name, Shape: shape, Category: cat, Layer: layer, Matrix: matrix})
	}
	h := c.HiddenSize
	add("backbone.embeddings.weight", Embedding, -1, false, c.VocabSize, h)
	for i, kind := range c.Layers {
		p := fmt.Sprintf("backbone.layers.%d.", i)
		add(p+"norm.weight", BlockNorm, i, false, h)
		m := p + "mixer."
		switch kind {
		case Mamba2Layer:
			inner, conv, heads := c.MambaIntermediate(), c.ConvDim(), c.MambaNumHeads
			add(m+"in_proj.weight", SSMInProj, i, true, c.InProjOut(), h)
			if c.UseBias {
				add(m+"in_proj.bias", SSMInProj, i, false, c.InProjOut())
			}
			add(m+"conv1d.weight", SSMConv1d, i, false, conv, 1, c.ConvKernel)
			if c.UseConvBias {
				add(m+"conv1d.bias", SSMConv1d, i, false, conv)
			}
			add(m+"dt_bias", SSMCore, i, false, heads)
			add(m+"A_log", SSMCore, i, false, heads)
			add(m+"D", SSMCore, i, false, heads)
			add(m+"norm.weight", SSMNorm, i, false, inner)
			add(m+"out_proj.weight", SSMOutProj, i, true, h, inner)
			if c.UseBias {
				add(m+"out_proj.bias", SSMOutProj, i, false, h)
			}
		case MLPLayer:
			add(m+"up_proj.weight", MLPUp, i, true, c.IntermediateSize, h)
			if c.MLPBias {
				add(m+"up_proj.bias", MLPUp, i, false, c.IntermediateSize)
			}
			add(m+"down_proj.weight", MLPDown, i, true, h, c.IntermediateSize)
			if c.MLPBias {
				add(m+"down_proj.bias", MLPDown, i, false, h)
			}
		case AttentionLayer:
			q, kv := c.NumAttentionHeads*c.HeadDim, c.NumKeyValueHeads*c.HeadDim
			for _, pr := range []struct {
				name    string
				cat     Category
				out, in int
			}{{"q_proj", AttnQ, q, h}, {"k_proj", AttnK, kv, h}, {"v_proj", AttnV, kv, h}, {"o_proj", AttnO, h, q}} {
				add(m+pr.name+".weight", pr.cat, i, true, pr.out, pr.in)
				if c.AttentionBias {
					add(m+pr.name+".bias", pr.cat, i, false, pr.out)
				}
			}
		}
	}
	add("backbone.norm_f.weight", FinalNorm, -1, false, h)
	if !c.TieWordEmbeddings {
		add("lm_head.weight", LMHead, -1, true, c.VocabSize, h)
	}
	return inv
}

// Lookup finds a parameter by name.
func (inv *Inventory) Lookup(name string) (Param, bool) {
	i, ok := inv.byName[name]
	if !ok {
		return Param{}, false
	}
	return inv.Params[i], true
}

// TotalParams is the number of parameters of the model.
func (inv *Inventory) TotalParams() int64 {
	var n int64
	for _, p := range inv.Params {
		n += p.NumElements()
	}
	return n
}

// CategoryStats summarises one category.
type CategoryStats struct {
	Category Category
	Tensors  int
	Params   int64
}

// ByCategory sums tensors and parameters per category, in display order,
// leaving out empty categories.
func (inv *Inventory) ByCategory() []CategoryStats {
	m := map[Category]*CategoryStats{}
	for _, p := range inv.Params {
		s := m[p.Category]
		if s == nil {
			s = &CategoryStats{Category: p.Category}
			m[p.Category] = s
		}
		s.Tensors++
		s.Params += p.NumElements()
	}
	var out []CategoryStats
	for _, c := range Categories {
		if s := m[c]; s != nil {
			out = append(out, *s)
		}
	}
	return out
}

// Mismatch is a difference between the derived inventory and a checkpoint.
type Mismatch struct {
	Name string
	Kind string // "missing", "unexpected", "shape", "dtype"
	Msg  string
}

func (m Mismatch) String() string { return fmt.Sprintf("%s %s: %s", m.Kind, m.Name, m.Msg) }

// Compare lists every missing, unexpected and mis-shaped tensor at once,
// and tensors in a dtype hyquant cannot read as weights.
func (inv *Inventory) Compare(ck *Checkpoint) []Mismatch {
	var out []Mismatch
	for _, p := range inv.Params {
		ti, ok := ck.Lookup(p.Name)
		if !ok {
			out = append(out, Mismatch{p.Name, "missing", fmt.Sprintf("expected %v (%s), not in the checkpoint", p.Shape, p.Category)})
			continue
		}
		if !sameShape(p.Shape, ti.Shape) {
			out = append(out, Mismatch{p.Name, "shape", fmt.Sprintf("checkpoint has %v, config implies %v", ti.Shape, p.Shape)})
		}
		if !ti.DType.IsFloat() {
			out = append(out, Mismatch{p.Name, "dtype", fmt.Sprintf("stored as %s; hyquant reads BF16, F16 and F32 weights", ti.DType)})
		}
	}
	for _, n := range ck.Names() {
		if _, ok := inv.Lookup(n); !ok {
			ti, _ := ck.Lookup(n)
			out = append(out, Mismatch{n, "unexpected", fmt.Sprintf("%s %v in %s is not a parameter of this config", ti.DType, ti.Shape, ti.File)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CheckAgainst returns an error listing all mismatches, or nil.
func (inv *Inventory) CheckAgainst(ck *Checkpoint) error {
	mm := inv.Compare(ck)
	if len(mm) == 0 {
		return nil
	}
	lines := make([]string, len(mm))
	for i, m := range mm {
		lines[i] = "  " + m.String()
	}
	return fmt.Errorf("checkpoint %s does not match config %s (%d problems):\n%s", ck.Dir, inv.Config.Source, len(mm), strings.Join(lines, "\n"))
}

func sameShape(a []int, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if int64(a[i]) != b[i] {
			return false
		}
	}
	return true
}

// StoredDType is the dtype the config says weights are stored in.
func (c *Config) StoredDType() (safetensors.DType, error) {
	d, err := safetensors.DTypeFromTorch(c.TorchDType)
	if err != nil {
		return "", &ConfigError{File: c.Source, Field: "torch_dtype", Msg: err.Error()}
	}
	return d, nil
}
