package runtime

import (
	"fmt"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/runtime/gguf"
)

// GGUFWeights runs a model straight from a GGUF file: float tensors like a
// float checkpoint's, quantised matrices and embeddings on their packed
// blocks (decoded a panel at a time inside the matrix multiply), small
// tensors converted to float32.
type GGUFWeights struct {
	*CheckpointWeights // the Hub-named view, for float and small tensors
}

// NewGGUFWeights returns the weight source of a Checkpoint opened from a
// GGUF file.
func NewGGUFWeights(ck *Checkpoint, inv *Inventory, mode WeightMode) *GGUFWeights {
	return &GGUFWeights{NewCheckpointWeights(ck, inv, mode)}
}

// blocks returns the packed rows of a quantised GGUF tensor, or ok = false
// when it is stored as a float type.
func (w *GGUFWeights) blocks(name string, out, in int) (*ggml.Rows, bool, error) {
	t, n, ok := w.Ck.GGUFTensor(name)
	if !ok {
		return nil, false, &CheckpointError{File: w.Ck.Dir, Msg: fmt.Sprintf("no tensor %q", name)}
	}
	if _, isFloat := GGMLFloatDType(t.Type); isFloat {
		return nil, false, nil
	}
	if len(t.Dims) != 2 || t.Dims[0] != int64(in) || t.Dims[1] != int64(out) {
		return nil, false, &CheckpointError{File: w.Ck.Dir, Msg: fmt.Sprintf("tensor %q has ggml dims %v, want [%d %d]", t.Name, t.Dims, in, out)}
	}
	raw, _, err := w.Ck.gguf.TensorData(t.Name)
	if err != nil {
		return nil, false, err
	}
	rows, err := ggml.NewRows(raw, t.Type, out, in)
	if err == nil && n.Transform == RopePermuted {
		perm := make([]int32, out)
		for r := range perm {
			perm[r] = int32(ropeRow(r, out, n.Heads))
		}
		err = rows.Permute(perm)
	}
	if err != nil {
		return nil, false, fmt.Errorf("%s: tensor %q: %w", w.Ck.Dir, t.Name, err)
	}
	return rows, true, nil
}

func (w *GGUFWeights) Linear(name string, out, in int, biasName string) (kernels.Linear, error) {
	rows, packed, err := w.blocks(name, out, in)
	if err != nil {
		return nil, err
	}
	if !packed {
		return w.CheckpointWeights.Linear(name, out, in, biasName)
	}
	bias, err := w.bias(biasName, out)
	if err != nil {
		return nil, err
	}
	return kernels.NewDecodedLinear(rows, out, in, bias)
}

func (w *GGUFWeights) Embedding(name string, vocab, hidden int) (Embedder, error) {
	rows, packed, err := w.blocks(name, vocab, hidden)
	if err != nil {
		return nil, err
	}
	if !packed {
		return w.CheckpointWeights.Embedding(name, vocab, hidden)
	}
	return rows, nil
}

// OpenGGUFModel opens a GGUF file as a model: its config from the
// metadata and its tensors under Hub names.
func OpenGGUFModel(path string) (*gguf.File, *Config, *Checkpoint, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := ConfigFromGGUF(f)
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	ck, err := openGGUFCheckpoint(f, c)
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	return f, c, ck, nil
}
