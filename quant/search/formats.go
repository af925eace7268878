package search

import (
	"fmt"
	"strings"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// Format is one precision a searched tensor may take: a llama.cpp block
// type, or a float dtype it is kept in.
type Format struct {
	Name string
	Type ggml.Type         // block formats
	Keep safetensors.DType // kept formats ("" for block formats)
}

// DefaultFormats are llama.cpp's K-quants, Q8_0 and bf16: every one of them
// exportable to a GGUF file llama.cpp runs.
const DefaultFormats = "q2_K,q3_K,q4_K,q5_K,q6_K,q8_0,bf16"

// ParseFormats reads a comma-separated list of formats: ggml type names
// (q4_K, q8_0, iq4_xs, ...) and bf16, f16 or f32 for tensors kept in float.
func ParseFormats(list string) ([]Format, error) {
	var out []Format
	seen := map[string]bool{}
	for _, name := range strings.Split(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		var f Format
		switch strings.ToLower(name) {
		case "bf16":
			f = Format{Name: "bf16", Keep: safetensors.BF16}
		case "f16", "fp16":
			f = Format{Name: "f16", Keep: safetensors.F16}
		case "f32", "fp32":
			f = Format{Name: "f32", Keep: safetensors.F32}
		default:
			t, err := ggml.ParseType(name)
			if err != nil {
				return nil, fmt.Errorf("format %q: %v", name, err)
			}
			if err := (quant.GGML{}).Prepare(&quant.Spec{Method: quant.GGMLMethod, GGMLType: t}); err != nil {
				return nil, fmt.Errorf("format %q: %v", name, err)
			}
			if _, ok := ggml.Format(t); !ok {
				return nil, fmt.Errorf("format %q: hyquant cannot compute with %s", name, t)
			}
			f = Format{Name: t.String(), Type: t}
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("format %s is listed twice", f.Name)
		}
		seen[f.Name] = true
		out = append(out, f)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no formats given")
	}
	return out, nil
}

// Rounding is how a block format's codes are chosen.
const (
	// RoundGPTQ is GPTQ's error feedback inside llama.cpp's blocks, with the
	// blocks' scales fitted under hyquant's importance matrix: the best
	// method of the frontier (plans/frontier-*.yaml).
	RoundGPTQ = "gptq"
	// RoundRTN is llama-quantize's rounding, importance-weighted.
	RoundRTN = "rtn"
)

// Spec is the quantisation spec of a tensor in this format. Projections
// get an importance matrix from calibration (and GPTQ rounding when
// asked); the token embedding, which is looked up rather than multiplied
// and has no input statistics, gets llama-quantize's plain rounding, as in
// llama.cpp's recipes.
func (f Format) Spec(p runtime.Param, rounding string, damp float64) (quant.Spec, error) {
	if f.Keep != "" {
		return quant.Spec{Keep: true, KeepDType: f.Keep}, nil
	}
	s := quant.Spec{Method: quant.GGMLMethod, GGMLType: f.Type}
	if p.Category != runtime.Embedding {
		s.Imatrix = true
		if rounding == RoundGPTQ {
			s.Rounding, s.Damp = quant.RoundingGPTQ, damp
		}
	}
	if err := (quant.GGML{}).Prepare(&s); err != nil {
		return quant.Spec{}, fmt.Errorf("%s in %s: %v", p.Name, f.Name, err)
	}
	return s, nil
}

// lossless reports whether keeping a tensor stored as stored in this format
// changes no value.
func (f Format) lossless(stored safetensors.DType) bool {
	if f.Keep == "" {
		return false
	}
	return f.Keep == stored || f.Keep == safetensors.F32
}
