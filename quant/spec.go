package quant

import (
	"fmt"
	"strings"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// Spec is the precision of one category (and, once resolved, one tensor).
type Spec struct {
	// Keep stores the tensor unquantised, in KeepDType ("" = as stored).
	Keep      bool
	KeepDType safetensors.DType

	Method      string // a registered method name (rtn, channel8, gptq, mambaquant)
	Bits        int    // 2..8
	Granularity grid.Granularity
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

	// ggml: llama.cpp's block type to quantise into, and whether to weight
	// the rounding by an importance matrix from calibration.
	GGMLType ggml.Type
	Imatrix  bool

	// Activation fake-quantisation at this linear layer's input (0 = off).
	ActBits int
	ActMode string // "token" (dynamic, per token) or "tensor" (static, from calibration)
}

// KeepSpec stores a tensor as it is.
var KeepSpec = Spec{Keep: true}

// Assignment is one parameter with its resolved spec.
type Assignment struct {
	Param  runtime.Param
	Stored safetensors.DType // dtype of the original tensor
	Spec   Spec
	// Rows and Cols view the parameter as a matrix (see grid.MatrixShape).
	Rows, Cols int
	// Importance is a per-column importance matrix given from outside (a
	// llama.cpp imatrix file) for a spec that asks for one; nil means it
	// comes from calibration.
	Importance []float32
}

// SchemeOf returns the rounding scheme of a spec.
func SchemeOf(s Spec) grid.Scheme {
	return grid.Scheme{Bits: s.Bits, Symmetric: s.Symmetric, ScaleDType: s.ScaleDType}
}

// CheckActivation checks a spec's activation fields (act_bits, act_mode)
// and fills in the default mode, token.
func CheckActivation(s *Spec) error {
	if s.ActBits == 0 {
		if s.ActMode != "" {
			return fmt.Errorf("act_mode %q given without act_bits", s.ActMode)
		}
		return nil
	}
	if err := CheckBits(s.ActBits, 2, 8); err != nil {
		return fmt.Errorf("act_bits: %v", err)
	}
	switch s.ActMode {
	case "":
		s.ActMode = "token"
	case "token", "tensor":
	default:
		return fmt.Errorf("act_mode %q is not token (dynamic per token) or tensor (static, calibrated)", s.ActMode)
	}
	return nil
}

// NeedsCalibration reports whether quantising under s needs calibration
// statistics: its method needs them, or a static activation scale must be
// measured.
func (s Spec) NeedsCalibration() bool {
	m, ok := Lookup(s.Method)
	return (ok && m.NeedsCalibration(s)) || (s.ActBits > 0 && s.ActMode == "tensor")
}

// NeedsCalibration reports whether quantising the assignment needs
// calibration statistics: when its spec does, except that an importance
// matrix given from outside (a llama.cpp imatrix file) stands in for the
// statistics of method ggml's llama.cpp rounding. GPTQ rounding still
// needs the Hessian, and static activation scales their calibration.
func (a Assignment) NeedsCalibration() bool {
	s := a.Spec
	if a.Importance != nil && s.Method == GGMLMethod && s.Rounding != RoundingGPTQ {
		s.Imatrix = false
	}
	return s.NeedsCalibration()
}

// String renders a spec compactly for tables, e.g. "rtn w4 g128 sym fp16".
func (s Spec) String() string {
	if s.Keep {
		if s.KeepDType == "" {
			return "keep"
		}
		return "keep " + FloatDTypeName(s.KeepDType)
	}
	var b strings.Builder
	if s.Method == GGMLMethod {
		b.WriteString("ggml " + s.GGMLType.String())
		if s.Imatrix {
			b.WriteString(" imatrix")
		}
		if s.Rounding == RoundingGPTQ {
			b.WriteString(" gptq")
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%s w%d %s", s.Method, s.Bits, s.Granularity)
	if s.Symmetric {
		b.WriteString(" sym")
	} else {
		b.WriteString(" asym")
	}
	b.WriteString(" " + FloatDTypeName(s.ScaleDType))
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

// FloatDTypeName is the plan-file name of a float dtype (fp16, bf16, fp32),
// the inverse of ParseFloatDType; other dtypes keep their own name.
func FloatDTypeName(d safetensors.DType) string {
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
