package ckpt

import (
	"fmt"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// PackedWeights is a runtime.WeightSource over quantisation results: a
// quantised projection runs on its packed codes (behind its input transform
// and activation quantiser, if any), a quantised embedding dequantises rows
// on lookup, a quantised small tensor (conv kernel, norm weight) is
// dequantised once, and everything else comes from Float, cast to its kept
// dtype when the plan says so. A model built from it computes exactly what
// the written checkpoint computes.
type PackedWeights struct {
	Float   runtime.WeightSource
	Results map[string]*quant.Quantized
	// Specs holds the resolved spec of every parameter (for casts and
	// activation quantisation).
	Specs map[string]quant.Spec
	// ActScales holds the static activation scales (act_mode tensor).
	ActScales map[string]float32
}

// Linear implements runtime.WeightSource.
func (p *PackedWeights) Linear(name string, out, in int, biasName string) (kernels.Linear, error) {
	q, ok := p.Results[name]
	if !ok {
		l, err := p.Float.Linear(name, out, in, biasName)
		if err != nil {
			return nil, err
		}
		if s, ok := p.Specs[name]; ok && s.Keep && s.KeepDType != "" {
			return castLinear(l, s.KeepDType)
		}
		return l, nil
	}
	if r, c := q.Shape(); r != out || c != in {
		return nil, fmt.Errorf("quantised %s is %d×%d, the model needs %d×%d", name, r, c, out, in)
	}
	var bias []float32
	if biasName != "" {
		var err error
		if bias, err = p.Float32(biasName, out); err != nil {
			return nil, err
		}
	}
	return q.Linear(p.Specs[name], p.ActScales[name], bias)
}

// Float32 implements runtime.WeightSource.
func (p *PackedWeights) Float32(name string, shape ...int) ([]float32, error) {
	q, ok := p.Results[name]
	if !ok {
		v, err := p.Float.Float32(name, shape...)
		if err != nil {
			return nil, err
		}
		if s, ok := p.Specs[name]; ok && s.Keep && s.KeepDType != "" {
			for i, x := range v {
				v[i] = safetensors.RoundTo(x, s.KeepDType)
			}
		}
		return v, nil
	}
	n := 1
	for _, d := range shape {
		n *= d
	}
	if r, c := q.Shape(); shape != nil && n != r*c {
		return nil, fmt.Errorf("quantised %s holds %d values, the model needs shape %v", name, r*c, shape)
	}
	return q.Dequantize()
}

// Embedding implements runtime.WeightSource.
func (p *PackedWeights) Embedding(name string, vocab, hidden int) (runtime.Embedder, error) {
	q, ok := p.Results[name]
	if !ok {
		e, err := p.Float.Embedding(name, vocab, hidden)
		if err != nil {
			return nil, err
		}
		if s, ok := p.Specs[name]; ok && s.Keep && s.KeepDType != "" {
			return castEmbedding{e, s.KeepDType}, nil
		}
		return e, nil
	}
	if r, c := q.Shape(); r != vocab || c != hidden {
		return nil, fmt.Errorf("quantised %s is %d×%d, the model needs %d×%d", name, r, c, vocab, hidden)
	}
	if q.Blocks != nil {
		return ggml.NewRows(q.Blocks, q.BlockType, vocab, hidden)
	}
	return &quant.QuantEmbedding{Q: q.Q}, nil
}

// castEmbedding rounds looked-up rows to a kept dtype.
type castEmbedding struct {
	runtime.Embedder
	d safetensors.DType
}

func (c castEmbedding) Row(dst []float32, id int) {
	c.Embedder.Row(dst, id)
	for i, v := range dst {
		dst[i] = safetensors.RoundTo(v, c.d)
	}
}

// castLinear rounds a float projection's weights to a kept dtype.
func castLinear(l kernels.Linear, d safetensors.DType) (kernels.Linear, error) {
	switch v := l.(type) {
	case *kernels.BF16Dense:
		if d == safetensors.BF16 {
			return l, nil
		}
	case *kernels.FP16Dense:
		if d == safetensors.F16 {
			return l, nil
		}
	case *kernels.Dense:
		src := v.Weights()
		w := make([]float32, len(src))
		for i, x := range src {
			w[i] = safetensors.RoundTo(x, d)
		}
		return kernels.NewDense(w, v.Out(), v.In(), v.Bias()), nil
	case *kernels.DecodedLinear:
		// A block-format source (a GGUF file): its dequantised values, rounded.
		w := v.Dequantize()
		for i, x := range w {
			w[i] = safetensors.RoundTo(x, d)
		}
		return kernels.NewDense(w, v.Out(), v.In(), v.Bias()), nil
	}
	return nil, fmt.Errorf("cannot cast a %T projection to %s; load float32 weights (--weights f32)", l, d)
}
