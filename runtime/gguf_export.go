package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/runtime/gguf"
	"github.com/hyquant/hyquant/runtime/tokenizer"
)

// GGUFExportOptions controls ExportGGUF.
type GGUFExportOptions struct {
	// Name is general.name; "" takes the model directory's name.
	Name string
	// Progress is called with the tensor bytes written so far and the total.
	Progress func(done, total int64)
	// Blocks holds tensors already quantised into a ggml block type, by
	// Hub name (rows in the Hub's order; q/k are permuted on the way out).
	// Every other tensor is read from the checkpoint.
	Blocks map[string]GGUFBlocks
	// FileType is general.file_type; 0 derives it from the matrices' float
	// type (a float export).
	FileType uint32
	// Context, when set, stops the export between tensors: the temporary
	// file is removed and ctx's error returned.
	Context context.Context
}

// GGUFBlocks is one tensor in a ggml block type: its bytes in Data, or
// read in pieces through ReadAt (so a large model is written in bounded
// memory).
type GGUFBlocks struct {
	Type   ggml.Type
	Data   []byte
	Size   int64 // with ReadAt: the tensor's bytes
	ReadAt func(off int64, dst []byte) error
}

func (b GGUFBlocks) size() int64 {
	if b.ReadAt != nil {
		return b.Size
	}
	return int64(len(b.Data))
}

func (b GGUFBlocks) read(off int64, dst []byte) error {
	if b.ReadAt != nil {
		return b.ReadAt(off, dst)
	}
	copy(dst, b.Data[off:])
	return nil
}

// GGUFExportSummary says what ExportGGUF wrote.
type GGUFExportSummary struct {
	Path        string
	Tensors     int
	TensorBytes int64
	FileType    uint32 // general.file_type
}

// ggufFileType is llama.cpp's general.file_type of an all-float model.
var ggufFileType = map[ggml.Type]uint32{ggml.F32: 0, ggml.F16: 1, ggml.BF16: 32}

// ExportGGUF writes a float checkpoint (bf16, f16 or f32) as a nemotron_h
// GGUF the way llama.cpp's converter does: the architecture keys and
// per-layer arrays, the tokenizer, matrices and embeddings in their stored
// type (q and k rows in llama's rope permutation), A as -exp(A_log), and
// conv1d, norms, D, dt_bias and biases in F32, conv1d as [K, C] and the
// gated norm as [groups, C/groups]. The file is written streaming (the
// checkpoint may be opened with OpenCheckpointStream) into a temporary
// file renamed into place when complete.
func ExportGGUF(path string, mf *ModelFiles, ck *Checkpoint, o GGUFExportOptions) (*GGUFExportSummary, error) {
	c := mf.Config
	inv := BuildInventory(c)
	if o.Blocks == nil {
		if err := inv.CheckAgainst(ck); err != nil {
			return nil, err
		}
	}
	tensors, ft, err := ggufExportPlan(c, inv, ck, o.Blocks)
	if err != nil {
		return nil, err
	}
	fileType := ggufFileType[ft]
	if o.FileType != 0 {
		fileType = o.FileType
	}
	kvs, err := ggufExportKVs(mf, o, fileType)
	if err != nil {
		return nil, err
	}
	w, err := gguf.NewWriter(path, 0)
	if err != nil {
		return nil, err
	}
	sum := &GGUFExportSummary{Path: path, Tensors: len(tensors), FileType: fileType}
	for _, kv := range kvs {
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			w.Abort()
			return nil, err
		}
	}
	for _, t := range tensors {
		if err := w.AddTensor(t.GGUF, t.Dims, t.Type); err != nil {
			w.Abort()
			return nil, err
		}
		sum.TensorBytes += t.Bytes()
	}
	var done int64
	for _, t := range tensors {
		if o.Context != nil && o.Context.Err() != nil {
			w.Abort()
			return nil, o.Context.Err()
		}
		if b, ok := o.Blocks[t.Hub]; ok {
			err = writeExportBlocks(w, t, b)
		} else {
			err = writeExportTensor(w, ck, c, t)
		}
		if err != nil {
			w.Abort()
			return nil, fmt.Errorf("%s: tensor %s: %w", path, t.Hub, err)
		}
		done += t.Bytes()
		if o.Progress != nil {
			o.Progress(done, sum.TensorBytes)
		}
	}
	return sum, w.Close()
}

// GGUFTensorLayout is one tensor of a nemotron_h GGUF as llama.cpp's
// converter lays it out: name, ggml dims (row length first) and type.
type GGUFTensorLayout struct {
	GGUFTensorName
	Dims []int64
	Type ggml.Type
	// Quantizable is what llama-quantize may change: 2-D weights other
	// than norms and conv1d (the rest stay F32 in every recipe).
	Quantizable bool
}

// Bytes is the tensor's size in its type.
func (t GGUFTensorLayout) Bytes() int64 {
	rb, _ := t.Type.RowBytes(t.Dims[0])
	for _, d := range t.Dims[1:] {
		rb *= d
	}
	return rb
}

// GGUFLayout lists every tensor of a nemotron_h GGUF of the config, in
// inventory order: matrices and embeddings in type matrix, everything
// else F32, as llama.cpp's converter writes them.
func GGUFLayout(c *Config, matrix ggml.Type) []GGUFTensorLayout {
	inv := BuildInventory(c)
	var out []GGUFTensorLayout
	for _, n := range GGUFNames(c) {
		p, _ := inv.Lookup(n.Hub)
		t := GGUFTensorLayout{GGUFTensorName: n, Type: ggml.F32}
		if len(p.Shape) == 2 && (p.Matrix || p.Category == Embedding) {
			t.Type, t.Quantizable = matrix, true
			t.Dims = []int64{int64(p.Shape[1]), int64(p.Shape[0])}
		} else {
			t.Dims = ggufSmallDims(c, p, n)
		}
		out = append(out, t)
	}
	return out
}

// ggufExportPlan decides every tensor's type and dims: ggml blocks where
// given, else a matrix's stored float type, else F32. ft is the float type
// of the matrices stored as floats (F32 when there are none), from which a
// float export's general.file_type comes.
func ggufExportPlan(c *Config, inv *Inventory, ck *Checkpoint, blocks map[string]GGUFBlocks) ([]GGUFTensorLayout, ggml.Type, error) {
	ft := ggml.Type(math.MaxUint32)
	out := GGUFLayout(c, ggml.F32)
	for i := range out {
		l := &out[i]
		if b, ok := blocks[l.Hub]; ok {
			if !l.Quantizable {
				return nil, 0, fmt.Errorf("tensor %q: GGUF keeps it in F32; it cannot be %s", l.Hub, b.Type)
			}
			l.Type = b.Type
		} else {
			ti, ok := ck.Lookup(l.Hub)
			if !ok {
				return nil, 0, fmt.Errorf("%s: no tensor %q", ck.Dir, l.Hub)
			}
			if l.Quantizable {
				typ, ok := FloatGGMLType(ti.DType)
				if !ok {
					return nil, 0, fmt.Errorf("%s: tensor %q is %s; GGUF takes BF16, F16 or F32", ti.File, l.Hub, ti.DType)
				}
				if ft == ggml.Type(math.MaxUint32) || typ == ggml.BF16 {
					ft = typ
				}
				l.Type = typ
			}
		}
		if _, err := l.Type.RowBytes(l.Dims[0]); err != nil {
			return nil, 0, fmt.Errorf("tensor %q: %w", l.Hub, err)
		}
	}
	if ft == ggml.Type(math.MaxUint32) {
		ft = ggml.F32
	}
	return out, ft, nil
}

// writeExportBlocks writes a quantised tensor's blocks (rows permuted for q/k).
func writeExportBlocks(w *gguf.Writer, t GGUFTensorLayout, b GGUFBlocks) error {
	size := t.Bytes()
	if b.size() != size {
		return fmt.Errorf("%d bytes of %s blocks, the tensor needs %d", b.size(), b.Type, size)
	}
	if t.Transform == RopePermuted { // q and k are small: whole
		all := make([]byte, size)
		if err := b.read(0, all); err != nil {
			return err
		}
		rows := int(t.Dims[1])
		return w.WriteData(permuteRopeRows(all, rows, len(all)/rows, t.Heads, true))
	}
	const piece = 4 << 20
	buf := make([]byte, min(piece, size))
	for off := int64(0); off < size; off += piece {
		p := buf[:min(piece, size-off)]
		if err := b.read(off, p); err != nil {
			return err
		}
		if err := w.WriteData(p); err != nil {
			return err
		}
	}
	return nil
}

// ggufSmallDims is the converter's layout of a vector or conv kernel.
func ggufSmallDims(c *Config, p Param, n GGUFTensorName) []int64 {
	switch {
	case strings.HasSuffix(n.GGUF, "ssm_conv1d.weight"):
		return []int64{int64(c.ConvKernel), int64(p.Shape[0])}
	case strings.HasSuffix(n.GGUF, "ssm_a"), strings.HasSuffix(n.GGUF, "ssm_d"):
		return []int64{1, int64(p.Shape[0])}
	case strings.HasSuffix(n.GGUF, "ssm_norm.weight"):
		return []int64{int64(p.Shape[0] / c.NGroups), int64(c.NGroups)}
	}
	return []int64{p.NumElements()}
}

// writeExportTensor streams one tensor: stored bytes as they are, in
// pieces, or its values converted to F32 (and transformed).
func writeExportTensor(w *gguf.Writer, ck *Checkpoint, c *Config, t GGUFTensorLayout) error {
	ti, _ := ck.Lookup(t.Hub)
	stored, _ := GGMLFloatDType(t.Type)
	same := stored == ti.DType
	switch {
	case t.Transform == RopePermuted:
		raw := make([]byte, ti.Bytes()) // q and k are small: a whole tensor at a time
		if err := ck.ReadAt(t.Hub, 0, raw); err != nil {
			return err
		}
		if err := CheckFiniteRaw(raw, ti, 0); err != nil {
			return err
		}
		if !same {
			return fmt.Errorf("stored as %s, exported as %s: conversion of permuted rows is not supported", ti.DType, t.Type)
		}
		rows := int(ti.Shape[0])
		return w.WriteData(permuteRopeRows(raw, rows, len(raw)/rows, t.Heads, true))
	case same && t.Transform == AsStored:
		const piece = 4 << 20
		buf := make([]byte, min(piece, ti.Bytes()))
		for off := int64(0); off < ti.Bytes(); off += piece {
			b := buf[:min(piece, ti.Bytes()-off)]
			if err := ck.ReadAt(t.Hub, off, b); err != nil {
				return err
			}
			if err := CheckFiniteRaw(b, ti, off/int64(ti.DType.Size())); err != nil {
				return err
			}
			if err := w.WriteData(b); err != nil {
				return err
			}
		}
		return nil
	}
	if t.Type != ggml.F32 {
		return fmt.Errorf("stored as %s, exported as %s: only vectors are converted (to F32)", ti.DType, t.Type)
	}
	v, err := ck.Float32(t.Hub)
	if err != nil {
		return err
	}
	if t.Transform == NegExp {
		for i, a := range v {
			v[i] = float32(-math.Exp(float64(a)))
		}
	}
	return w.WriteData(float32Bytes(v))
}

// ggufExportKVs is the converter's metadata for the model.
func ggufExportKVs(mf *ModelFiles, o GGUFExportOptions, fileType uint32) ([]gguf.KV, error) {
	c := mf.Config
	raw, err := mf.ReadFile("config.json")
	if err != nil {
		return nil, err
	}
	var extra struct {
		MaxPos *int `json:"max_position_embeddings"`
		BOS    *int `json:"bos_token_id"`
		EOS    *int `json:"eos_token_id"`
		PAD    *int `json:"pad_token_id"`
	}
	json.Unmarshal(quoteNonFinite(raw), &extra) // fields are optional; the config was validated when loaded
	tj, err := mf.ReadFile("tokenizer.json")
	if err != nil {
		return nil, fmt.Errorf("model %q: reading tokenizer.json: %w", mf.Ref, err)
	}
	v, err := tokenizer.VocabFromJSON(tj, filepath.Join(mf.Dir, "tokenizer.json"), c.VocabSize)
	if err != nil {
		return nil, err
	}
	for _, id := range []struct {
		from *int
		to   *int
	}{{extra.BOS, &v.BOS}, {extra.EOS, &v.EOS}, {extra.PAD, &v.PAD}} {
		if id.from != nil && *id.from >= 0 && *id.from < len(v.Tokens) {
			*id.to = *id.from
		}
	}
	name := o.Name
	if name == "" {
		name = filepath.Base(filepath.Clean(mf.Dir))
		if mf.Embedded {
			name = mf.Ref
		}
	}
	ff, kv := make([]int32, len(c.Layers)), make([]int32, len(c.Layers))
	for i, k := range c.Layers {
		switch k {
		case MLPLayer:
			ff[i] = int32(c.IntermediateSize)
		case AttentionLayer:
			kv[i] = int32(c.NumKeyValueHeads)
		}
	}
	ctx := 8192
	if extra.MaxPos != nil && *extra.MaxPos > 0 {
		ctx = *extra.MaxPos
	}
	p := GGUFArch + "."
	u := func(x int) gguf.Value { return gguf.Uint32(uint32(x)) }
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: gguf.String(GGUFArch)},
		{Key: "general.type", Value: gguf.String("model")},
		{Key: "general.name", Value: gguf.String(name)},
		{Key: p + "block_count", Value: u(len(c.Layers))},
		{Key: p + "context_length", Value: u(ctx)},
		{Key: p + "embedding_length", Value: u(c.HiddenSize)},
		{Key: p + "feed_forward_length", Value: gguf.Int32s(ff)},
		{Key: p + "attention.head_count", Value: u(c.NumAttentionHeads)},
		{Key: p + "attention.head_count_kv", Value: gguf.Int32s(kv)},
		{Key: p + "attention.layer_norm_rms_epsilon", Value: gguf.Float32(float32(c.NormEps))},
		{Key: p + "attention.layer_norm_epsilon", Value: gguf.Float32(float32(c.NormEps))},
		{Key: "general.file_type", Value: gguf.Uint32(fileType)},
		{Key: p + "vocab_size", Value: u(c.VocabSize)},
		{Key: p + "rope.dimension_count", Value: u(c.HeadDim)},
		{Key: p + "ssm.conv_kernel", Value: u(c.ConvKernel)},
		{Key: p + "ssm.state_size", Value: u(c.SSMStateSize)},
		{Key: p + "ssm.group_count", Value: u(c.NGroups)},
		{Key: p + "ssm.inner_size", Value: u(c.MambaIntermediate())},
		{Key: p + "ssm.time_step_rank", Value: u(c.MambaNumHeads)},
		{Key: p + "rope.scaling.finetuned", Value: gguf.Bool(false)},
		{Key: p + "attention.key_length", Value: u(c.HeadDim)},
		{Key: p + "attention.value_length", Value: u(c.HeadDim)},
		{Key: "general.quantization_version", Value: gguf.Uint32(2)},
		{Key: "tokenizer.ggml.model", Value: gguf.String(v.Model)},
		{Key: "tokenizer.ggml.pre", Value: gguf.String(v.Pre)},
		{Key: "tokenizer.ggml.tokens", Value: gguf.Strings(v.Tokens)},
		{Key: "tokenizer.ggml.token_type", Value: gguf.Int32s(v.Types)},
		{Key: "tokenizer.ggml.merges", Value: gguf.Strings(v.Merges)},
	}
	for _, id := range []struct {
		key string
		v   int
	}{{"tokenizer.ggml.bos_token_id", v.BOS}, {"tokenizer.ggml.eos_token_id", v.EOS}, {"tokenizer.ggml.padding_token_id", v.PAD}} {
		if id.v >= 0 {
			kvs = append(kvs, gguf.KV{Key: id.key, Value: u(id.v)})
		}
	}
	kvs = append(kvs, gguf.KV{Key: "tokenizer.ggml.add_bos_token", Value: gguf.Bool(true)})
	return kvs, nil
}
