// Package llamacpp holds llama-quantize's recipes (Q4_K_M, Q3_K_S, IQ2_XS,
// ...) as per-tensor type choices for a nemotron_h model: which ggml type
// each tensor of the file gets, so that hyquant can give a recipe's exact
// bytes, quantise with it and put it beside its own plans. The rules are
// llama.cpp's (src/llama-quant.cpp of the August 2026 snapshot), for the
// case nemotron_h is: no experts, not Falcon, and a per-layer GQA ratio of
// 0 at layer 0 (a Mamba2 layer has no KV heads), so the "n_gqa >= 4" rules
// never fire.
package llamacpp

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/runtime"
)

// Recipe is one of llama-quantize's file types (its LLAMA_FTYPE_MOSTLY_*).
type Recipe struct {
	Name     string    // as llama-quantize takes it: "Q4_K_M"
	Default  ggml.Type // the type of every quantisable tensor no rule changes
	FileType uint32    // general.file_type
}

var recipes = []Recipe{
	{"Q4_0", ggml.Q4_0, 2}, {"Q4_1", ggml.Q4_1, 3}, {"Q8_0", ggml.Q8_0, 7}, {"Q5_0", ggml.Q5_0, 8}, {"Q5_1", ggml.Q5_1, 9},
	{"Q2_K", ggml.Q2_K, 10}, {"Q3_K_S", ggml.Q3_K, 11}, {"Q3_K_M", ggml.Q3_K, 12}, {"Q3_K_L", ggml.Q3_K, 13},
	{"Q4_K_S", ggml.Q4_K, 14}, {"Q4_K_M", ggml.Q4_K, 15}, {"Q5_K_S", ggml.Q5_K, 16}, {"Q5_K_M", ggml.Q5_K, 17},
	{"Q6_K", ggml.Q6_K, 18}, {"IQ2_XXS", ggml.IQ2_XXS, 19}, {"IQ2_XS", ggml.IQ2_XS, 20}, {"Q2_K_S", ggml.Q2_K, 21},
	{"IQ3_XS", ggml.IQ3_S, 22}, {"IQ3_XXS", ggml.IQ3_XXS, 23}, {"IQ4_NL", ggml.IQ4_NL, 25}, {"IQ3_S", ggml.IQ3_S, 26},
	{"IQ3_M", ggml.IQ3_S, 27}, {"IQ2_S", ggml.IQ2_XS, 28}, {"IQ2_M", ggml.IQ2_S, 29}, {"IQ4_XS", ggml.IQ4_XS, 30},
}

// Lookup finds a recipe by name (case-insensitive).
func Lookup(name string) (Recipe, error) {
	for _, r := range recipes {
		if strings.EqualFold(r.Name, name) {
			return r, nil
		}
	}
	return Recipe{}, fmt.Errorf("unknown llama.cpp recipe %q (known: %s)", name, strings.Join(Names(), ", "))
}

// Names lists the recipes, sorted.
func Names() []string {
	var out []string
	for _, r := range recipes {
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out
}

// Options are llama-quantize's switches that change type choices.
type Options struct {
	Imatrix bool // an importance matrix is given (--imatrix)
	Pure    bool // --pure: every quantisable tensor in the default type
}

// Assign returns the layout of the recipe's file for config c: every
// tensor in the converter's order, each with the type llama-quantize gives
// it (source is the float type of the file it quantises, bf16 for the
// converter's output). It fails where llama-quantize would, on a tensor
// whose type needs an importance matrix when there is none.
func Assign(c *runtime.Config, r Recipe, source ggml.Type, o Options) ([]runtime.GGUFTensorLayout, error) {
	layout := runtime.GGUFLayout(c, source)
	s := state{r: r, o: o, nLayers: len(c.Layers), tied: c.TieWordEmbeddings}
	for _, t := range layout {
		if t.Quantizable && strings.HasSuffix(t.GGUF, "attn_v.weight") {
			s.nAttnV++
		}
	}
	for i := range layout {
		t := &layout[i]
		if !t.Quantizable {
			continue
		}
		t.Type = s.typeOf(t.GGUF, t.Dims[0])
		if !o.Imatrix && requiresImatrix(t.GGUF, t.Type, r) {
			return nil, fmt.Errorf("recipe %s needs an importance matrix: tensor %s would be %s", r.Name, t.GGUF, t.Type)
		}
	}
	return layout, nil
}

// Bytes is the total size of a layout's tensors.
func Bytes(layout []runtime.GGUFTensorLayout) int64 {
	var n int64
	for _, t := range layout {
		n += t.Bytes()
	}
	return n
}

// state carries llama-quantize's counters over the tensors.
type state struct {
	r               Recipe
	o               Options
	nLayers, nAttnV int
	iAttnV, iFFN    int
	nUp             int
	tied            bool // no output.weight: token_embd takes the output's rule
}

func is(r Recipe, names ...string) bool {
	for _, n := range names {
		if r.Name == n {
			return true
		}
	}
	return false
}

// moreBits is llama.cpp's use_more_bits: the first and last eighth of
// the layers, and every third one between.
func moreBits(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }

func (s *state) typeOf(name string, cols int64) ggml.Type {
	t := s.r.Default
	if !s.o.Pure {
		t = s.rule(name, t, cols)
	}
	return fallback(t, cols)
}

// rule is llama-quantize's choice for one tensor (its
// llama_tensor_get_type_impl, for nemotron_h).
func (s *state) rule(name string, t ggml.Type, cols int64) ggml.Type {
	r := s.r
	iq2 := is(r, "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M")
	switch {
	case name == "output.weight" || (s.tied && name == "token_embd.weight"):
		tr, _ := ggml.Lookup(t)
		switch {
		case cols%int64(tr.BlockSize) != 0:
			return ggml.Q8_0
		case iq2 || is(r, "IQ3_XXS"):
			return ggml.Q5_K
		case t != ggml.Q8_0:
			return ggml.Q6_K
		}
		return t
	case name == "token_embd.weight":
		switch {
		case is(r, "IQ2_XXS", "IQ2_XS"):
			return ggml.Q2_K
		case is(r, "IQ2_S", "IQ2_M", "IQ3_XXS"):
			return ggml.IQ3_S
		}
		return t
	case iq2:
		switch {
		case strings.HasSuffix(name, "attn_v.weight"):
			s.iAttnV++
			if is(r, "IQ2_S", "IQ2_M") {
				return ggml.IQ3_S
			}
			return ggml.Q2_K
		case strings.Contains(name, "ffn_down"):
			i := s.iFFN
			s.iFFN++
			if i < s.nLayers/8 {
				if is(r, "IQ2_S", "IQ2_M") {
					return ggml.IQ3_S
				}
				return ggml.Q2_K
			}
		case strings.HasSuffix(name, "attn_output.weight") && is(r, "IQ2_S", "IQ2_M"):
			return ggml.IQ3_S
		}
		return t
	case strings.HasSuffix(name, "attn_v.weight"):
		i := s.iAttnV
		s.iAttnV++
		switch {
		case is(r, "Q2_K"):
			return ggml.Q3_K
		case is(r, "IQ3_XXS"):
			if !s.o.Imatrix {
				return ggml.IQ3_S
			}
			return ggml.IQ3_XXS
		case is(r, "IQ3_M"):
			return ggml.Q4_K
		case is(r, "Q3_K_M"):
			if i < 2 {
				return ggml.Q5_K
			}
			return ggml.Q4_K
		case is(r, "Q3_K_L"):
			return ggml.Q5_K
		case is(r, "Q4_K_M", "Q5_K_M") && moreBits(i, s.nAttnV):
			return ggml.Q6_K
		case is(r, "Q4_K_S") && i < 4:
			return ggml.Q5_K
		}
		return t
	case strings.HasSuffix(name, "attn_k.weight"), strings.HasSuffix(name, "attn_q.weight"):
		switch {
		case is(r, "IQ3_XS"):
			return ggml.IQ3_XXS
		case is(r, "IQ3_XXS"):
			return ggml.IQ2_S
		}
		return t
	case strings.Contains(name, "ffn_down"):
		i, n := s.iFFN, s.nLayers
		s.iFFN++
		switch {
		case is(r, "Q2_K"):
			return ggml.Q3_K
		case is(r, "Q2_K_S"):
			if i < n/8 {
				return ggml.Q4_K
			}
		case is(r, "IQ3_XXS") && !s.o.Imatrix:
			if i < n/8 {
				return ggml.Q4_K
			}
			return ggml.Q3_K
		case is(r, "Q3_K_M"):
			if i < n/16 {
				return ggml.Q5_K
			}
			return ggml.Q4_K // nemotron_h is not Falcon
		case is(r, "IQ3_M"):
			if i < n/8 {
				return ggml.Q4_K
			}
		case is(r, "Q3_K_L"):
			return ggml.Q5_K
		case is(r, "Q4_K_M"):
			if moreBits(i, n) {
				return ggml.Q6_K
			}
		case i < n/8 && is(r, "IQ4_NL", "IQ4_XS") && !s.o.Imatrix:
			return ggml.Q5_K
		case is(r, "Q5_K_M") && moreBits(i, n):
			return ggml.Q6_K
		case is(r, "Q4_K_S") && i < n/8:
			return ggml.Q5_K
		case is(r, "Q4_0", "Q5_0") && s.o.Imatrix && i < n/8:
			if is(r, "Q4_0") {
				return ggml.Q4_1
			}
			return ggml.Q5_1
		}
		return t
	case strings.HasSuffix(name, "attn_output.weight"):
		switch {
		case is(r, "Q2_K"):
			return ggml.Q3_K
		case is(r, "IQ3_XXS"):
			return ggml.IQ3_S
		case is(r, "Q3_K_M", "IQ3_M"):
			return ggml.Q4_K
		case is(r, "Q3_K_L"):
			return ggml.Q5_K
		}
		return t
	case strings.Contains(name, "ffn_up"):
		if is(r, "IQ3_XS") {
			i := s.iFFNUp()
			if i >= s.nLayers/8 && i < 7*s.nLayers/8 {
				return ggml.IQ3_XXS
			}
		}
		return t
	}
	return t
}

// iFFNUp counts ffn_up tensors (only IQ3_XS looks at them).
func (s *state) iFFNUp() int {
	s.nUp++
	return s.nUp - 1
}

// fallback is llama-quantize's type for rows its choice cannot hold.
func fallback(t ggml.Type, cols int64) ggml.Type {
	tr, _ := ggml.Lookup(t)
	if cols%int64(tr.BlockSize) == 0 {
		return t
	}
	var f ggml.Type
	switch t {
	case ggml.IQ1_S, ggml.IQ1_M, ggml.IQ2_XXS, ggml.IQ2_XS, ggml.IQ2_S, ggml.IQ3_XXS, ggml.IQ3_S, ggml.IQ4_XS:
		f = ggml.IQ4_NL
	case ggml.Q2_K, ggml.Q3_K, ggml.TQ1_0, ggml.TQ2_0:
		f = ggml.Q4_0
	case ggml.Q4_K:
		f = ggml.Q5_0
	case ggml.Q5_K:
		f = ggml.Q5_1
	case ggml.Q6_K:
		f = ggml.Q8_0
	default:
		return ggml.F16
	}
	if cols%32 != 0 {
		return ggml.F16
	}
	return f
}

// requiresImatrix is llama-quantize's refusal to quantise without one.
func requiresImatrix(name string, t ggml.Type, r Recipe) bool {
	if name == "token_embd.weight" || name == "output.weight" {
		return false
	}
	switch t {
	case ggml.IQ3_XXS, ggml.IQ2_XXS, ggml.IQ2_XS, ggml.IQ2_S, ggml.IQ1_M, ggml.IQ1_S:
		return true
	case ggml.Q2_K:
		return r.Name == "Q2_K_S"
	}
	return false
}
