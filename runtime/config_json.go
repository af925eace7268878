package runtime

import (
	"encoding/json"
	"math"
)

// HubJSON renders the config as a Hugging Face config.json that
// ParseConfig reads back to an equal Config (used when a model comes from
// a GGUF file and a checkpoint directory must carry a config.json).
func (c *Config) HubJSON() ([]byte, error) {
	lim := []any{c.TimeStepLimit[0], c.TimeStepLimit[1]}
	if math.IsInf(c.TimeStepLimit[1], 1) {
		lim[1] = "Infinity"
	}
	m := map[string]any{
		"architectures":           []string{"NemotronHForCausalLM"},
		"model_type":              c.ModelType,
		"vocab_size":              c.VocabSize,
		"hidden_size":             c.HiddenSize,
		"intermediate_size":       c.IntermediateSize,
		"num_hidden_layers":       len(c.Layers),
		"hybrid_override_pattern": c.Pattern(),
		"num_attention_heads":     c.NumAttentionHeads,
		"num_key_value_heads":     c.NumKeyValueHeads,
		"head_dim":                c.HeadDim,
		"mamba_num_heads":         c.MambaNumHeads,
		"mamba_head_dim":          c.MambaHeadDim,
		"n_groups":                c.NGroups,
		"ssm_state_size":          c.SSMStateSize,
		"conv_kernel":             c.ConvKernel,
		"expand":                  c.Expand,
		"chunk_size":              c.ChunkSize,
		"mamba_hidden_act":        c.MambaActivation,
		"mlp_hidden_act":          c.MLPActivation,
		"use_bias":                c.UseBias,
		"use_conv_bias":           c.UseConvBias,
		"mlp_bias":                c.MLPBias,
		"attention_bias":          c.AttentionBias,
		"layer_norm_epsilon":      c.NormEps,
		"time_step_limit":         lim,
		"tie_word_embeddings":     c.TieWordEmbeddings,
		"torch_dtype":             c.TorchDType,
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
