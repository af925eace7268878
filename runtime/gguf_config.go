package runtime

import (
	"fmt"
	"strconv"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/runtime/gguf"
)

// GGUFArch is the llama.cpp architecture name of a dense NemotronH model.
const GGUFArch = "nemotron_h"

// ConfigFromGGUF derives a NemotronH Config from a GGUF file's metadata
// (llama.cpp's nemotron_h keys) and tensor set, with the same validation
// as a config.json. Layer kinds come from the per-layer arrays:
// head_count_kv > 0 marks attention, feed_forward_length > 0 an MLP, both
// zero a Mamba2 mixer.
func ConfigFromGGUF(f *gguf.File) (*Config, error) {
	m := ggufMeta{f: f}
	arch, err := m.str("general.architecture")
	if err != nil {
		return nil, err
	}
	switch arch {
	case GGUFArch:
	case "nemotron_h_moe":
		return nil, m.fail("general.architecture", "%q: mixture-of-experts NemotronH is not supported. If the model is dense, the file was written by llama.cpp's converter under transformers 5.x, whose AutoConfig adds MoE defaults to every NemotronH config: reconvert from config.json as written", arch)
	default:
		return nil, m.fail("general.architecture", "%q is not a NemotronH model (want %q)", arch, GGUFArch)
	}
	p := arch + "."
	n, err := m.posInt(p + "block_count")
	if err != nil {
		return nil, err
	}
	raw := &rawConfig{NumHiddenLayers: &n}
	for _, fld := range []struct {
		key string
		dst **int
	}{
		{p + "embedding_length", &raw.HiddenSize},
		{p + "attention.head_count", &raw.NumAttentionHeads},
		{p + "ssm.conv_kernel", &raw.ConvKernel},
		{p + "ssm.state_size", &raw.SSMStateSize},
		{p + "ssm.group_count", &raw.NGroups},
		{p + "ssm.time_step_rank", &raw.MambaNumHeads},
	} {
		v, err := m.posInt(fld.key)
		if err != nil {
			return nil, err
		}
		*fld.dst = &v
	}
	inner, err := m.posInt(p + "ssm.inner_size")
	if err != nil {
		return nil, err
	}
	if inner%*raw.MambaNumHeads != 0 || inner%*raw.HiddenSize != 0 {
		return nil, m.fail(p+"ssm.inner_size", "%d is not a multiple of the head count %d (ssm.time_step_rank) and of embedding_length %d", inner, *raw.MambaNumHeads, *raw.HiddenSize)
	}
	headDim, expand := inner / *raw.MambaNumHeads, inner / *raw.HiddenSize
	raw.MambaHeadDim, raw.Expand = &headDim, &expand
	if v, ok := f.Lookup(p + "attention.key_length"); ok {
		kl, ok := v.Uint()
		if !ok || kl == 0 {
			return nil, m.fail(p+"attention.key_length", "must be a positive integer, is %s %s", v.TypeName(), v.Display(4))
		}
		hd := int(kl)
		raw.HeadDim = &hd
	}
	if err := m.layers(raw, p, n); err != nil {
		return nil, err
	}
	eps, err := m.float32Key(p + "attention.layer_norm_rms_epsilon")
	if err != nil {
		return nil, err
	}
	raw.LayerNormEpsilon = &eps
	vocab, err := m.vocabSize(p)
	if err != nil {
		return nil, err
	}
	raw.VocabSize = &vocab
	m.tensorFlags(raw)
	relu2, silu := "relu2", "silu"
	raw.MLPHiddenAct, raw.MambaHiddenAct = &relu2, &silu
	c, err := raw.validate(f.Path)
	if err != nil {
		return nil, err
	}
	return c, nil
}

type ggufMeta struct{ f *gguf.File }

func (m ggufMeta) fail(key, format string, args ...any) error {
	return &ConfigError{File: m.f.Path, Field: key, Msg: fmt.Sprintf(format, args...)}
}

func (m ggufMeta) str(key string) (string, error) {
	v, ok := m.f.Lookup(key)
	if !ok {
		return "", m.fail(key, "missing")
	}
	s, ok := v.String()
	if !ok {
		return "", m.fail(key, "must be a string, is %s", v.TypeName())
	}
	return s, nil
}

func (m ggufMeta) posInt(key string) (int, error) {
	v, ok := m.f.Lookup(key)
	if !ok {
		return 0, m.fail(key, "missing")
	}
	u, ok := v.Uint()
	if !ok || u == 0 || u > 1<<40 {
		return 0, m.fail(key, "must be a positive integer, is %s %s", v.TypeName(), v.Display(4))
	}
	return int(u), nil
}

// float32Key reads a float and returns the shortest decimal that rounds to
// the same float32, so 1e-5 stored as float32 reads back as 1e-5, the
// config.json value, not 9.99999974e-06.
func (m ggufMeta) float32Key(key string) (float64, error) {
	v, ok := m.f.Lookup(key)
	if !ok {
		return 0, m.fail(key, "missing")
	}
	x, ok := v.Float()
	if !ok {
		return 0, m.fail(key, "must be a float, is %s", v.TypeName())
	}
	if v.Type == gguf.TypeFloat32 {
		x, _ = strconv.ParseFloat(strconv.FormatFloat(x, 'g', -1, 32), 64)
	}
	return x, nil
}

// perLayer reads a per-layer integer array (or a scalar meaning every layer).
func (m ggufMeta) perLayer(key string, n int) ([]int64, error) {
	v, ok := m.f.Lookup(key)
	if !ok {
		return nil, m.fail(key, "missing")
	}
	if u, ok := v.Uint(); ok {
		out := make([]int64, n)
		for i := range out {
			out[i] = int64(u)
		}
		return out, nil
	}
	xs, ok := v.Ints()
	if !ok {
		return nil, m.fail(key, "must be an integer array, is %s", v.TypeName())
	}
	if len(xs) != n {
		return nil, m.fail(key, "has %d entries, block_count is %d", len(xs), n)
	}
	for i, x := range xs {
		if x < 0 {
			return nil, m.fail(key, "entry %d is negative (%d)", i, x)
		}
	}
	return xs, nil
}

// layers sets the layer pattern, the MLP width and the KV head count from
// the per-layer arrays; every MLP (attention) layer must agree on its width
// (head count), as a NemotronH config has one of each.
func (m ggufMeta) layers(raw *rawConfig, p string, n int) error {
	ff, err := m.perLayer(p+"feed_forward_length", n)
	if err != nil {
		return err
	}
	kv, err := m.perLayer(p+"attention.head_count_kv", n)
	if err != nil {
		return err
	}
	pattern := make([]byte, n)
	var width, kvHeads int64
	for i := range pattern {
		switch {
		case kv[i] > 0 && ff[i] > 0:
			return m.fail(p+"feed_forward_length", "layer %d has both an MLP (feed_forward_length %d) and attention (head_count_kv %d); a NemotronH block has one mixer", i, ff[i], kv[i])
		case kv[i] > 0:
			pattern[i] = AttentionLayer.Symbol()
			if kvHeads != 0 && kv[i] != kvHeads {
				return m.fail(p+"attention.head_count_kv", "layer %d has %d KV heads, an earlier attention layer %d", i, kv[i], kvHeads)
			}
			kvHeads = kv[i]
		case ff[i] > 0:
			pattern[i] = MLPLayer.Symbol()
			if width != 0 && ff[i] != width {
				return m.fail(p+"feed_forward_length", "layer %d has width %d, an earlier MLP layer %d", i, ff[i], width)
			}
			width = ff[i]
		default:
			pattern[i] = Mamba2Layer.Symbol()
		}
	}
	// A model without MLP or attention layers still needs positive values.
	w, h := int(max(width, 1)), int(max(kvHeads, 1))
	s := string(pattern)
	raw.HybridOverridePattern, raw.IntermediateSize, raw.NumKeyValueHeads = &s, &w, &h
	return nil
}

func (m ggufMeta) vocabSize(p string) (int, error) {
	if v, ok := m.f.Lookup(p + "vocab_size"); ok {
		u, ok := v.Uint()
		if !ok || u == 0 || u > 1<<31 {
			return 0, m.fail(p+"vocab_size", "must be a positive integer, is %s %s", v.TypeName(), v.Display(4))
		}
		return int(u), nil
	}
	if t, ok := m.f.Tensor("token_embd.weight"); ok && len(t.Dims) == 2 {
		return int(t.Dims[1]), nil
	}
	return 0, m.fail(p+"vocab_size", "missing, and there is no 2-D token_embd.weight to take it from")
}

// tensorFlags sets what only the tensor set tells: biases, tied embeddings
// and the stored float type.
func (m ggufMeta) tensorFlags(raw *rawConfig) {
	has := func(name string) bool { _, ok := m.f.Tensor(name); return ok }
	var inBias, convBias, mlpBias, attnBias bool
	for i := range len(*raw.HybridOverridePattern) {
		b := fmt.Sprintf("blk.%d.", i)
		inBias = inBias || has(b+"ssm_in.bias")
		convBias = convBias || has(b+"ssm_conv1d.bias")
		mlpBias = mlpBias || has(b+"ffn_up.bias")
		attnBias = attnBias || has(b+"attn_q.bias")
	}
	tie := !has("output.weight")
	raw.UseBias, raw.UseConvBias, raw.MLPBias, raw.AttentionBias, raw.TieWordEmbeddings = &inBias, &convBias, &mlpBias, &attnBias, &tie
	dt := "bfloat16"
	if t, ok := m.f.Tensor("token_embd.weight"); ok {
		switch t.Type {
		case ggml.F16:
			dt = "float16"
		case ggml.F32:
			dt = "float32"
		}
	}
	raw.TorchDType = &dt
}
