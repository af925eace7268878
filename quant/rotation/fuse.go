package rotation

import (
	"fmt"

	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// Options choose the rotation of a plan's `rotation:` field.
type Options struct {
	Kind string // Hadamard, Orthogonal or Auto ("" = Auto)
	Seed int64
	// DType is the dtype the rotated tensors are stored in; "" keeps each
	// tensor's own (bf16 for the Hub checkpoints: the rotated weights are
	// rounded to bf16 once, and every plan's byte count is unchanged). F32
	// keeps the rotation exact to float32 rounding.
	DType safetensors.DType
}

// role is what a parameter does with the residual stream.
type role int

const (
	untouched role = iota
	reads          // a projection whose input is the normed stream: W·diag(norm)·Qᵀ
	writes         // a projection (or its bias) that adds to the stream: Q·W
	embeds         // the token embedding rows: each row e becomes Q·e
	norm           // an RMSNorm before a reader: folded into the readers, becomes ones
)

func roleOf(p runtime.Param) role {
	switch p.Category {
	case runtime.SSMInProj, runtime.MLPUp, runtime.AttnQ, runtime.AttnK, runtime.AttnV, runtime.LMHead:
		if p.Matrix {
			return reads
		}
	case runtime.SSMOutProj, runtime.MLPDown, runtime.AttnO:
		return writes // the bias of a writer rotates with it
	case runtime.Embedding:
		return embeds
	case runtime.BlockNorm, runtime.FinalNorm:
		return norm
	}
	return untouched
}

// Fuse returns ck with its residual stream rotated: every RMSNorm that
// feeds the stream's readers is folded into them (and becomes ones), the
// embedding rows, the readers' inputs and the writers' outputs are rotated
// by one orthogonal Q, so the rotated model's logits equal the original's
// up to rounding (RMSNorm commutes with Q: ||Q·h|| = ||h||). The Mamba2
// mixer's own gated norm, its convolution and state-space parameters act
// inside the mixer and are unchanged. Tensors are produced when read
// (kept after the first read for models under a billion parameters), so a
// large model streams. The returned checkpoint owns ck's files.
func Fuse(ck *runtime.Checkpoint, cfg *runtime.Config, o Options) (*runtime.Checkpoint, *Residual, error) {
	if cfg.TieWordEmbeddings {
		return nil, nil, fmt.Errorf("residual rotation: the model ties lm_head to the embeddings, so the final norm cannot be folded into lm_head alone")
	}
	kind := o.Kind
	if kind == "" {
		kind = Auto
	}
	q, err := New(kind, cfg.HiddenSize, o.Seed)
	if err != nil {
		return nil, nil, err
	}
	inv := runtime.BuildInventory(cfg)
	norms := normOfLayer(inv)
	keep := inv.TotalParams() < 1e9
	replace := map[string]runtime.DerivedTensor{}
	for _, p := range inv.Params {
		ro := roleOf(p)
		if ro == untouched {
			continue
		}
		info, ok := ck.Lookup(p.Name)
		if !ok {
			return nil, nil, fmt.Errorf("residual rotation: %s: checkpoint has no tensor %q", ck.Dir, p.Name)
		}
		dt := o.DType
		if dt == "" {
			dt = info.DType
		}
		if !dt.IsFloat() {
			return nil, nil, fmt.Errorf("residual rotation: %s: tensor %q would be stored as %s; rotated tensors need a float dtype (f32, f16 or bf16)", ck.Dir, p.Name, dt)
		}
		f := fuser{ck: ck, q: q, p: p, norm: norms[p.Layer], dtype: dt}
		if ro == reads && f.norm == "" {
			return nil, nil, fmt.Errorf("residual rotation: no RMSNorm feeds %s", p.Name)
		}
		shape := make([]int64, len(p.Shape))
		for i, d := range p.Shape {
			shape[i] = int64(d)
		}
		replace[p.Name] = runtime.DerivedTensor{DType: dt, Shape: shape, Keep: keep, Load: func() ([]byte, error) { return f.load(ro) }}
	}
	out, err := ck.Derive("residual rotation", replace)
	if err != nil {
		return nil, nil, err
	}
	return out, q, nil
}

// normOfLayer maps each block to the RMSNorm that feeds its mixer, and -1
// (embeddings, norm_f, lm_head) to the final norm.
func normOfLayer(inv *runtime.Inventory) map[int]string {
	m := map[int]string{}
	for _, p := range inv.Params {
		if p.Category == runtime.BlockNorm || p.Category == runtime.FinalNorm {
			m[p.Layer] = p.Name
		}
	}
	return m
}

// fuser computes one rotated tensor.
type fuser struct {
	ck    *runtime.Checkpoint
	q     *Residual
	p     runtime.Param
	norm  string // the RMSNorm folded into a reader
	dtype safetensors.DType
}

func (f fuser) load(ro role) ([]byte, error) {
	n := f.q.N
	if ro == norm {
		ones := make([]float32, n)
		for i := range ones {
			ones[i] = 1
		}
		return f.encode(ones)
	}
	w, err := f.ck.Float32(f.p.Name, f.p.Shape...)
	if err != nil {
		return nil, err
	}
	switch ro {
	case reads:
		g, err := f.ck.Float32(f.norm, n)
		if err != nil {
			return nil, err
		}
		for i := range w {
			w[i] *= g[i%n]
		}
		f.q.RotateRows(w, len(w)/n)
	case embeds:
		f.q.RotateRows(w, len(w)/n)
	case writes:
		f.q.RotateColumns(w, len(w)/n)
	}
	return f.encode(w)
}

func (f fuser) encode(v []float32) ([]byte, error) {
	b := make([]byte, len(v)*f.dtype.Size())
	if err := safetensors.FromFloat32(b, v, f.dtype); err != nil {
		return nil, fmt.Errorf("residual rotation: %s: %v", f.p.Name, err)
	}
	return b, nil
}
