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
func (w *GGUFWeights) blocks(name string, out, in int) (*GGMLRows, bool, error) {
	t, n, ok := w.Ck.GGUFTensor(name)
	if !ok {
		return nil, false, &CheckpointError{File: w.Ck.Dir, Msg: fmt.Sprintf("no tensor %q", name)}
	}
	if _, isFloat := ggmlFloatDType(t.Type); isFloat {
		return nil, false, nil
	}
	if len(t.Dims) != 2 || t.Dims[0] != int64(in) || t.Dims[1] != int64(out) {
		return nil, false, &CheckpointError{File: w.Ck.Dir, Msg: fmt.Sprintf("tensor %q has ggml dims %v, want [%d %d]", t.Name, t.Dims, in, out)}
	}
	raw, _, err := w.Ck.gguf.TensorData(t.Name)
	if err != nil {
		return nil, false, err
	}
	rows, err := NewGGMLRows(raw, t.Type, out, in)
	if err != nil {
		return nil, false, fmt.Errorf("%s: tensor %q: %w", w.Ck.Dir, t.Name, err)
	}
	if n.Transform == RopePermuted {
		rows.perm = make([]int32, out)
		for r := range rows.perm {
			rows.perm[r] = int32(ropeRow(r, out, n.Heads))
		}
	}
	return rows, true, nil
}

func (w *GGUFWeights) Linear(name string, out, in int, biasName string) (kernels.Linear, error) {
	rows, packed, err := w.blocks(name, out, in)
	if err != nil || !packed {
		if err != nil {
			return nil, err
		}
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
	if err != nil || !packed {
		if err != nil {
			return nil, err
		}
		return w.CheckpointWeights.Embedding(name, vocab, hidden)
	}
	return rows, nil
}

// GGMLRows is a matrix stored in a ggml block type, row by row (a GGUF
// tensor's layout), optionally read through a row permutation.
type GGMLRows struct {
	data       []byte
	typ        ggml.Type
	tr         *ggml.Traits
	rows, cols int
	rowBytes   int
	perm       []int32 // perm[r] is the stored row holding row r; nil for none
}

// NewGGMLRows wraps rows×cols values of type t held in data.
func NewGGMLRows(data []byte, t ggml.Type, rows, cols int) (*GGMLRows, error) {
	tr, ok := ggml.Lookup(t)
	if !ok || tr.Dequantize == nil {
		return nil, fmt.Errorf("ggml type %s cannot be computed with", t)
	}
	rb, err := t.RowBytes(int64(cols))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != rb*int64(rows) {
		return nil, fmt.Errorf("%d bytes of %s data, a %d×%d matrix needs %d", len(data), t, rows, cols, rb*int64(rows))
	}
	return &GGMLRows{data: data, typ: t, tr: tr, rows: rows, cols: cols, rowBytes: int(rb)}, nil
}

// Type is the ggml type of the blocks.
func (g *GGMLRows) Type() ggml.Type { return g.typ }

// BlockSize is the values per block of the type.
func (g *GGMLRows) BlockSize() int { return g.tr.BlockSize }

// DecodeRow dequantises columns c0 … c0+len(dst)-1 of row r.
func (g *GGMLRows) DecodeRow(dst []float32, r, c0 int) {
	if g.perm != nil {
		r = int(g.perm[r])
	}
	start := r*g.rowBytes + c0/g.tr.BlockSize*g.tr.BlockBytes
	g.tr.Dequantize(dst, g.data[start:start+len(dst)/g.tr.BlockSize*g.tr.BlockBytes])
}

// Row writes the embedding of token id (as an Embedder).
func (g *GGMLRows) Row(dst []float32, id int) { g.DecodeRow(dst[:g.cols], id, 0) }

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
