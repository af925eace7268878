package quant

import (
	"fmt"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// GGMLMethod is the name of the method that quantises into llama.cpp's
// block types.
const GGMLMethod = "ggml"

// GGMLBlocksSuffix names the tensor that stores a weight's ggml blocks.
const GGMLBlocksSuffix = ".ggml_blocks"

// GGML quantises into one of llama.cpp's block types (q8_0 … q2_K, iq4_xs,
// iq4_nl) with llama-quantize's own rounding, bit for bit: plain, or
// weighted by an importance matrix (imatrix: true) taken from calibration
// as llama.cpp's imatrix defines it (per input column, the mean of x² over
// the calibration tokens). With rounding: gptq the codes are chosen by GPTQ
// inside the type's blocks instead (RoundGPTQBlocks: each block's scales as
// llama-quantize fits them, then error-feedback rounding against them),
// which needs calibration. Plan fields: type (required), imatrix, rounding
// (rtn, the default, or gptq), and with gptq damp and block_size.
type GGML struct{}

func init() { Register(GGML{}) }

func (GGML) Name() string { return GGMLMethod }
func (GGML) Summary() string {
	return "llama.cpp's block types (q8_0, q6_K, q4_K, iq4_xs, ...) with llama-quantize's rounding, optionally importance-weighted"
}
func (GGML) Options() []string {
	return []string{"type", "imatrix", "rounding", "damp", "block_size"}
}

// Aux is none: the blocks are the whole stored form (Layout names them).
func (GGML) Aux(Assignment) []safetensors.TensorSpec { return nil }

// Prepare checks that the type is one hyquant quantises into and can
// compute with; bits and granularity do not apply (the type fixes them).
func (GGML) Prepare(s *Spec) error {
	if s.GGMLType == ggml.F32 { // the zero value: no type given
		return fmt.Errorf("method ggml needs a type (one of %s)", quantisableTypes())
	}
	tr, ok := ggml.Lookup(s.GGMLType)
	if !ok || tr.Quantize == nil || tr.Dequantize == nil {
		return fmt.Errorf("ggml type %s is not a quantisation target (known: %s)", s.GGMLType, quantisableTypes())
	}
	switch s.Rounding {
	case "", RoundingRTN:
		s.Rounding = "" // llama-quantize's rounding; "" keeps older specs' hashes
		if s.Damp != 0 || s.BlockSize != 0 {
			return fmt.Errorf("damp and block_size apply to ggml with rounding: gptq only")
		}
		return nil
	case RoundingGPTQ:
		if tr.NewRounder == nil {
			return fmt.Errorf("ggml type %s has no GPTQ rounding", s.GGMLType)
		}
		if s.ActOrder {
			return fmt.Errorf("act_order is not supported with ggml types (a block's scales are fitted when GPTQ reaches its first column)")
		}
		return prepareGPTQ(s)
	}
	return fmt.Errorf("ggml rounding %q is not %s or %s", s.Rounding, RoundingRTN, RoundingGPTQ)
}

func quantisableTypes() string {
	s := ""
	for _, t := range ggml.Types() {
		if tr, _ := ggml.Lookup(t); tr.Quantize != nil && tr.BlockSize > 1 {
			if s != "" {
				s += ", "
			}
			s += tr.Name
		}
	}
	return s
}

// NeedsCalibration is true with an importance matrix.
func (GGML) NeedsCalibration(s Spec) bool { return s.Imatrix || s.Rounding == RoundingGPTQ }

// Quantize rounds each row into the type's blocks.
func (GGML) Quantize(w []float32, a Assignment, st *Stats) (*Quantized, error) {
	if err := checkWeights(GGMLMethod, w, a); err != nil {
		return nil, err
	}
	imatrix := a.Importance
	if a.Spec.Imatrix && imatrix == nil {
		if st == nil || st.Rows == 0 {
			return nil, fmt.Errorf("%s: ggml with imatrix needs calibration statistics", a.Param.Name)
		}
		imatrix = st.MeanSquares()
	}
	if a.Spec.Rounding == RoundingGPTQ {
		if err := checkStats("ggml gptq", a, st); err != nil {
			return nil, err
		}
		blocks, err := RoundGPTQBlocks(widen(w), st.Hessian(), a.Rows, a.Cols, a.Spec.GGMLType, imatrix, GPTQOptionsOf(a.Spec, st), a.Param.Name)
		if err != nil {
			return nil, err
		}
		return &Quantized{Blocks: blocks, BlockType: a.Spec.GGMLType, Rows: a.Rows, Cols: a.Cols}, nil
	}
	rb, err := a.Spec.GGMLType.RowBytes(int64(a.Cols))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", a.Param.Name, err)
	}
	blocks := make([]byte, int64(a.Rows)*rb)
	if err := a.Spec.GGMLType.Quantize(blocks, w, a.Rows, a.Cols, imatrix); err != nil {
		return nil, fmt.Errorf("%s: %w", a.Param.Name, err)
	}
	return &Quantized{Blocks: blocks, BlockType: a.Spec.GGMLType, Rows: a.Rows, Cols: a.Cols}, nil
}

// MeanSquares is llama.cpp's importance matrix of the layer: per input
// column, the mean of x² over the observed rows (the diagonal of XᵀX / n).
func (s *Stats) MeanSquares() []float32 {
	out := make([]float32, s.Cols)
	if s.Rows == 0 {
		return out
	}
	for i := range out {
		out[i] = float32(s.XtX[i*s.Cols+i] / float64(s.Rows))
	}
	return out
}
