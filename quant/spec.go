package quant

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hyquant/hyquant/runtime/safetensors"
)

// GranularityKind says how many weights share one scale.
type GranularityKind int

const (
	PerTensor  GranularityKind = iota // one scale for the whole tensor
	PerChannel                        // one scale per output channel (row)
	PerGroup                          // one scale per GroupSize consecutive inputs of a row
)

// Granularity is a GranularityKind with its group size.
type Granularity struct {
	Kind      GranularityKind
	GroupSize int // PerGroup only
}

func (g Granularity) String() string {
	switch g.Kind {
	case PerTensor:
		return "tensor"
	case PerChannel:
		return "channel"
	}
	return fmt.Sprintf("group:%d", g.GroupSize)
}

// ParseGranularity reads "tensor", "channel" or "group:N".
func ParseGranularity(s string) (Granularity, error) {
	switch s {
	case "tensor":
		return Granularity{Kind: PerTensor}, nil
	case "channel":
		return Granularity{Kind: PerChannel}, nil
	}
	if rest, ok := strings.CutPrefix(s, "group:"); ok {
		n, err := strconv.Atoi(rest)
		if err == nil && n > 0 {
			return Granularity{Kind: PerGroup, GroupSize: n}, nil
		}
	}
	return Granularity{}, fmt.Errorf("%q is not tensor, channel or group:N with N a positive integer", s)
}

// Spec is the precision of one category (and, once resolved, one tensor).
type Spec struct {
	// Keep stores the tensor unquantised, in KeepDType ("" = as stored).
	Keep      bool
	KeepDType safetensors.DType

	Method      string // a registered method name (rtn, channel8, gptq, mambaquant)
	Bits        int    // 2..8
	Granularity Granularity
	Symmetric   bool
	ScaleDType  safetensors.DType // F16, BF16 or F32

	// Method options; each method accepts only its own (see Method.Options).
	Damp         float64 // gptq: dampening as a fraction of mean(diag H)
	ActOrder     bool    // gptq: quantise columns in order of decreasing H diagonal
	StaticGroups bool    // gptq with act-order: groups fixed before reordering
	BlockSize    int     // gptq: columns per lazy-update block
	Rotation     string  // mambaquant: hadamard or klt
	Rounding     string  // mambaquant: rtn or gptq after rotating
	Seed         int64   // mambaquant: seed of the random Hadamard signs
	Smooth       float64 // mambaquant: smoothing strength alpha (0 = off)

	// Activation fake-quantisation at this linear layer's input (0 = off).
	ActBits int
	ActMode string // "token" (dynamic, per token) or "tensor" (static, from calibration)
}

// KeepSpec stores a tensor as it is.
var KeepSpec = Spec{Keep: true}

// String renders a spec compactly for tables, e.g. "rtn w4 g128 sym fp16".
func (s Spec) String() string {
	if s.Keep {
		if s.KeepDType == "" {
			return "keep"
		}
		return "keep " + dtypeName(s.KeepDType)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s w%d %s", s.Method, s.Bits, s.Granularity)
	if s.Symmetric {
		b.WriteString(" sym")
	} else {
		b.WriteString(" asym")
	}
	b.WriteString(" " + dtypeName(s.ScaleDType))
	if s.Rotation != "" {
		b.WriteString(" " + s.Rotation)
	}
	if s.ActBits > 0 {
		fmt.Fprintf(&b, " a%d-%s", s.ActBits, s.ActMode)
	}
	return b.String()
}

// ParseFloatDType reads fp16, bf16 or fp32 (or F16/BF16/F32).
func ParseFloatDType(s string) (safetensors.DType, error) {
	switch strings.ToLower(s) {
	case "fp16", "f16", "float16", "half":
		return safetensors.F16, nil
	case "bf16", "bfloat16":
		return safetensors.BF16, nil
	case "fp32", "f32", "float32":
		return safetensors.F32, nil
	}
	return "", fmt.Errorf("%q is not fp16, bf16 or fp32", s)
}

func dtypeName(d safetensors.DType) string {
	switch d {
	case safetensors.F16:
		return "fp16"
	case safetensors.BF16:
		return "bf16"
	case safetensors.F32:
		return "fp32"
	}
	return string(d)
}
