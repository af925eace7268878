package runtime

import (
	"fmt"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// WeightSource provides a model's weights in whatever form they are stored:
// float checkpoints here, GGUF files (gguf_weights.go), packed quantised
// checkpoints in package quant/ckpt.
type WeightSource interface {
	// Linear builds the projection whose weight is stored under name
	// (out×in), adding the bias stored under biasName unless it is "".
	Linear(name string, out, in int, biasName string) (kernels.Linear, error)
	// Float32 reads a small tensor (norm weights, conv kernels, biases,
	// A_log, D, dt_bias) as float32, checking its shape.
	Float32(name string, shape ...int) ([]float32, error)
	// Embedding returns the token embedding table stored under name.
	Embedding(name string, vocab, hidden int) (Embedder, error)
}

// Embedder looks up token embedding rows.
type Embedder interface {
	// Row writes the embedding of token id into dst (hidden values).
	Row(dst []float32, id int)
}

// WeightMode chooses how float checkpoint weights are held in memory.
type WeightMode int

const (
	// WeightsAuto converts to float32 for models under 1e9 parameters and
	// keeps larger ones mapped.
	WeightsAuto WeightMode = iota
	// WeightsFloat32 converts every projection to packed float32 (fastest,
	// 4-8 bytes a parameter).
	WeightsFloat32
	// WeightsMapped keeps projections in their stored bf16/fp16 form,
	// memory-mapped, widening them inside the matrix multiply.
	WeightsMapped
)

// CheckpointWeights reads weights from a float (bf16/fp16/fp32) checkpoint.
type CheckpointWeights struct {
	Ck   *Checkpoint
	Mode WeightMode
}

// NewCheckpointWeights resolves WeightsAuto against the model size.
func NewCheckpointWeights(ck *Checkpoint, inv *Inventory, mode WeightMode) *CheckpointWeights {
	if mode == WeightsAuto {
		mode = WeightsFloat32
		if inv.TotalParams() > 1e9 {
			mode = WeightsMapped
		}
	}
	return &CheckpointWeights{Ck: ck, Mode: mode}
}

func (w *CheckpointWeights) Float32(name string, shape ...int) ([]float32, error) {
	return w.Ck.Float32(name, shape...)
}

func (w *CheckpointWeights) bias(name string, out int) ([]float32, error) {
	if name == "" {
		return nil, nil
	}
	return w.Ck.Float32(name, out)
}

func (w *CheckpointWeights) Linear(name string, out, in int, biasName string) (kernels.Linear, error) {
	bias, err := w.bias(biasName, out)
	if err != nil {
		return nil, err
	}
	raw, ti, err := w.Ck.Raw(name)
	if err != nil {
		return nil, err
	}
	if len(ti.Shape) != 2 || ti.Shape[0] != int64(out) || ti.Shape[1] != int64(in) {
		return nil, &CheckpointError{File: ti.File, Msg: fmt.Sprintf("tensor %q has shape %v, want [%d %d]", name, ti.Shape, out, in)}
	}
	if w.Mode == WeightsMapped && (ti.DType == safetensors.BF16 || ti.DType == safetensors.F16) {
		if err := CheckFiniteRaw(raw, ti, 0); err != nil {
			return nil, err
		}
		if ti.DType == safetensors.BF16 {
			return kernels.NewBF16Dense(raw, out, in, bias), nil
		}
		return kernels.NewFP16Dense(raw, out, in, bias), nil
	}
	f, err := w.Ck.Float32(name, out, in)
	if err != nil {
		return nil, err
	}
	return kernels.NewDense(f, out, in, bias), nil
}

func (w *CheckpointWeights) Embedding(name string, vocab, hidden int) (Embedder, error) {
	raw, ti, err := w.Ck.Raw(name)
	if err != nil {
		return nil, err
	}
	if len(ti.Shape) != 2 || ti.Shape[0] != int64(vocab) || ti.Shape[1] != int64(hidden) {
		return nil, &CheckpointError{File: ti.File, Msg: fmt.Sprintf("tensor %q has shape %v, want [%d %d]", name, ti.Shape, vocab, hidden)}
	}
	if !ti.DType.IsFloat() {
		return nil, &CheckpointError{File: ti.File, Msg: fmt.Sprintf("tensor %q is %s; embeddings must be BF16, F16 or F32", name, ti.DType)}
	}
	if w.Mode == WeightsMapped {
		if err := CheckFiniteRaw(raw, ti, 0); err != nil {
			return nil, err
		}
		return &RawEmbedding{Raw: raw, DType: ti.DType, Hidden: hidden}, nil
	}
	f, err := w.Ck.Float32(name, vocab, hidden)
	if err != nil {
		return nil, err
	}
	return &DenseEmbedding{Table: f, Hidden: hidden}, nil
}

// DenseEmbedding is a float32 vocab×hidden table.
type DenseEmbedding struct {
	Table  []float32
	Hidden int
}

func (e *DenseEmbedding) Row(dst []float32, id int) {
	copy(dst[:e.Hidden], e.Table[id*e.Hidden:(id+1)*e.Hidden])
}

// RawEmbedding converts stored bf16/fp16/fp32 rows on lookup.
type RawEmbedding struct {
	Raw    []byte
	DType  safetensors.DType
	Hidden int
}

func (e *RawEmbedding) Row(dst []float32, id int) {
	sz := e.DType.Size() * e.Hidden
	if err := safetensors.ToFloat32(dst[:e.Hidden], e.Raw[id*sz:(id+1)*sz], e.DType); err != nil {
		panic(err) // dtype checked at construction
	}
}
