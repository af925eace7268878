package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
)

// LayerKind is the mixer type of one block.
type LayerKind int

const (
	Mamba2Layer LayerKind = iota
	MLPLayer
	AttentionLayer
	MoELayer
)

// String names the kind the way reports and tables show it.
func (k LayerKind) String() string {
	switch k {
	case Mamba2Layer:
		return "Mamba2"
	case MLPLayer:
		return "MLP"
	case AttentionLayer:
		return "attention"
	case MoELayer:
		return "MoE"
	}
	return fmt.Sprintf("LayerKind(%d)", int(k))
}

// Symbol is the layer's character in a hybrid_override_pattern.
func (k LayerKind) Symbol() byte {
	return "M-*E"[k]
}

// Config is a validated NemotronH model configuration.
type Config struct {
	Source string // the file (or name) it was read from, for messages

	ModelType        string
	VocabSize        int
	HiddenSize       int
	IntermediateSize int // MLP hidden width
	Layers           []LayerKind

	NumAttentionHeads int
	NumKeyValueHeads  int
	HeadDim           int // attention head dimension

	MambaNumHeads int
	MambaHeadDim  int
	NGroups       int
	SSMStateSize  int
	ConvKernel    int
	Expand        int
	ChunkSize     int

	MambaActivation string
	MLPActivation   string

	UseBias       bool // Mamba in_proj / out_proj bias
	UseConvBias   bool
	MLPBias       bool
	AttentionBias bool

	NormEps       float64 // layer_norm_epsilon: block norms, gated norm, norm_f
	TimeStepLimit [2]float64

	TieWordEmbeddings bool
	TorchDType        string // torch_dtype / dtype, e.g. "bfloat16"
}

// ConfigError is a problem with one field of a config file.
type ConfigError struct {
	File  string
	Field string // JSON field name; empty for whole-file problems
	Msg   string
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: field %q: %s", e.File, e.Field, e.Msg)
}

// MambaIntermediate is the Mamba2 inner width, mamba_num_heads * mamba_head_dim.
func (c *Config) MambaIntermediate() int { return c.MambaNumHeads * c.MambaHeadDim }

// ConvDim is the number of channels of the causal depthwise convolution
// (x, B and C): intermediate + 2 * n_groups * ssm_state_size.
func (c *Config) ConvDim() int { return c.MambaIntermediate() + 2*c.NGroups*c.SSMStateSize }

// InProjOut is the output width of a Mamba2 in_proj: gate, xBC and dt.
func (c *Config) InProjOut() int { return c.MambaIntermediate() + c.ConvDim() + c.MambaNumHeads }

// Pattern renders the layer kinds as a hybrid_override_pattern string.
func (c *Config) Pattern() string {
	b := make([]byte, len(c.Layers))
	for i, k := range c.Layers {
		b[i] = k.Symbol()
	}
	return string(b)
}

// LayersOf lists the indices of the layers of one kind.
func (c *Config) LayersOf(kind LayerKind) []int {
	var idx []int
	for i, k := range c.Layers {
		if k == kind {
			idx = append(idx, i)
		}
	}
	return idx
}

// LoadConfig reads and validates a config.json.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading model config: %w", err)
	}
	return ParseConfig(data, path)
}

// rawConfig mirrors the JSON fields hyquant reads. Pointers tell absent
// fields from zero values.
type rawConfig struct {
	ModelType             *string      `json:"model_type"`
	VocabSize             *int         `json:"vocab_size"`
	HiddenSize            *int         `json:"hidden_size"`
	IntermediateSize      *int         `json:"intermediate_size"`
	NumHiddenLayers       *int         `json:"num_hidden_layers"`
	HybridOverridePattern *string      `json:"hybrid_override_pattern"`
	LayersBlockType       *[]string    `json:"layers_block_type"`
	NumAttentionHeads     *int         `json:"num_attention_heads"`
	NumKeyValueHeads      *int         `json:"num_key_value_heads"`
	HeadDim               *int         `json:"head_dim"`
	AttentionHeadDim      *int         `json:"attention_head_dim"`
	MambaNumHeads         *int         `json:"mamba_num_heads"`
	MambaHeadDim          *int         `json:"mamba_head_dim"`
	NGroups               *int         `json:"n_groups"`
	SSMStateSize          *int         `json:"ssm_state_size"`
	ConvKernel            *int         `json:"conv_kernel"`
	Expand                *int         `json:"expand"`
	ChunkSize             *int         `json:"chunk_size"`
	MambaHiddenAct        *string      `json:"mamba_hidden_act"`
	MLPHiddenAct          *string      `json:"mlp_hidden_act"`
	UseBias               *bool        `json:"use_bias"`
	UseConvBias           *bool        `json:"use_conv_bias"`
	MLPBias               *bool        `json:"mlp_bias"`
	AttentionBias         *bool        `json:"attention_bias"`
	LayerNormEpsilon      *float64     `json:"layer_norm_epsilon"`
	RMSNormEps            *float64     `json:"rms_norm_eps"`
	TimeStepLimit         *[]jsonFloat `json:"time_step_limit"`
	TieWordEmbeddings     *bool        `json:"tie_word_embeddings"`
	TorchDType            *string      `json:"torch_dtype"`
	DType                 *string      `json:"dtype"`
}

// jsonFloat accepts JSON numbers and the non-standard Infinity, -Infinity
// and NaN that Python's json module writes (rewritten to strings by
// quoteNonFinite before decoding).
type jsonFloat float64

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"Infinity"`:
		*f = jsonFloat(math.Inf(1))
		return nil
	case `"-Infinity"`:
		*f = jsonFloat(math.Inf(-1))
		return nil
	case `"NaN"`:
		*f = jsonFloat(math.NaN())
		return nil
	case "null":
		return errors.New("null is not a number")
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

// quoteNonFinite rewrites the bare tokens Infinity, -Infinity and NaN that
// appear outside strings into quoted strings, so encoding/json accepts the
// file. Everything else is left byte for byte.
func quoteNonFinite(data []byte) []byte {
	var out []byte // nil until the first rewrite
	inString, escaped := false, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		} else if c == '"' {
			inString = true
		} else if tok := nonFiniteToken(data[i:]); tok != "" {
			if out == nil {
				out = append(make([]byte, 0, len(data)+8), data[:i]...)
			}
			out = append(out, '"')
			out = append(out, tok...)
			out = append(out, '"')
			i += len(tok) - 1
			continue
		}
		if out != nil {
			out = append(out, c)
		}
	}
	if out == nil {
		return data
	}
	return out
}

func nonFiniteToken(b []byte) string {
	for _, tok := range []string{"-Infinity", "Infinity", "NaN"} {
		if bytes.HasPrefix(b, []byte(tok)) {
			return tok
		}
	}
	return ""
}

// lineCol converts a byte offset into 1-based line and column numbers.
func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	line, col := 1, 1
	for _, c := range data[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// ParseConfig parses and validates a NemotronH config.json in either the Hub
// form (hybrid_override_pattern, attention_head_dim) or the transformers 5.x
// form (layers_block_type, head_dim, bare Infinity in time_step_limit).
// name is used in error messages.
func ParseConfig(data []byte, name string) (*Config, error) {
	var raw rawConfig
	dec := json.NewDecoder(bytes.NewReader(quoteNonFinite(data)))
	if err := dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			l, c := lineCol(data, se.Offset)
			return nil, &ConfigError{File: name, Msg: fmt.Sprintf("invalid JSON at line %d, column %d: %v", l, c, se)}
		case errors.As(err, &te):
			return nil, &ConfigError{File: name, Field: te.Field, Msg: fmt.Sprintf("expected %v, found JSON %s", te.Type, te.Value)}
		default:
			return nil, &ConfigError{File: name, Msg: err.Error()}
		}
	}
	return raw.validate(name)
}

func (raw *rawConfig) validate(file string) (*Config, error) {
	c := &Config{Source: file}
	fail := func(field, format string, args ...any) error {
		return &ConfigError{File: file, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	positive := func(field string, p *int, def int, required bool) (int, error) {
		if p == nil {
			if required {
				return 0, fail(field, "missing")
			}
			return def, nil
		}
		if *p <= 0 {
			return 0, fail(field, "must be positive, got %d", *p)
		}
		if max := maxDim[field]; *p > max {
			return 0, fail(field, "%d is implausibly large: hyquant accepts at most %d", *p, max)
		}
		return *p, nil
	}
	var err error
	type intField struct {
		name     string
		p        *int
		dst      *int
		def      int
		required bool
	}
	for _, f := range []intField{
		{"vocab_size", raw.VocabSize, &c.VocabSize, 0, true},
		{"hidden_size", raw.HiddenSize, &c.HiddenSize, 0, true},
		{"intermediate_size", raw.IntermediateSize, &c.IntermediateSize, 0, true},
		{"num_attention_heads", raw.NumAttentionHeads, &c.NumAttentionHeads, 0, true},
		{"num_key_value_heads", raw.NumKeyValueHeads, &c.NumKeyValueHeads, 0, true},
		{"mamba_num_heads", raw.MambaNumHeads, &c.MambaNumHeads, 0, true},
		{"mamba_head_dim", raw.MambaHeadDim, &c.MambaHeadDim, 0, true},
		{"n_groups", raw.NGroups, &c.NGroups, 0, true},
		{"ssm_state_size", raw.SSMStateSize, &c.SSMStateSize, 0, true},
		{"conv_kernel", raw.ConvKernel, &c.ConvKernel, 4, false},
		{"expand", raw.Expand, &c.Expand, 2, false},
		{"chunk_size", raw.ChunkSize, &c.ChunkSize, 256, false},
	} {
		if *f.dst, err = positive(f.name, f.p, f.def, f.required); err != nil {
			return nil, err
		}
	}
	if raw.NumHiddenLayers != nil {
		if _, err := positive("num_hidden_layers", raw.NumHiddenLayers, 0, true); err != nil {
			return nil, err
		}
	}

	c.ModelType = deref(raw.ModelType, "nemotron_h")
	if c.ModelType != "nemotron_h" {
		return nil, fail("model_type", "%q is not a NemotronH model (want \"nemotron_h\")", c.ModelType)
	}

	// Layer pattern: hybrid_override_pattern and/or layers_block_type.
	var fromPattern, fromTypes []LayerKind
	if raw.HybridOverridePattern != nil {
		for i, ch := range *raw.HybridOverridePattern {
			k, ok := map[rune]LayerKind{'M': Mamba2Layer, '-': MLPLayer, '*': AttentionLayer, 'E': MoELayer}[ch]
			if !ok {
				return nil, fail("hybrid_override_pattern", "character %q at index %d is not one of M (Mamba2), - (MLP), * (attention), E (MoE)", ch, i)
			}
			fromPattern = append(fromPattern, k)
		}
	}
	if raw.LayersBlockType != nil {
		for i, s := range *raw.LayersBlockType {
			k, ok := map[string]LayerKind{
				"mamba": Mamba2Layer, "linear_attention": Mamba2Layer,
				"mlp": MLPLayer, "attention": AttentionLayer, "full_attention": AttentionLayer, "moe": MoELayer,
			}[s]
			if !ok {
				return nil, fail("layers_block_type", "entry %d %q is not one of mamba, linear_attention, mlp, attention, full_attention, moe", i, s)
			}
			fromTypes = append(fromTypes, k)
		}
	}
	switch {
	case fromPattern == nil && fromTypes == nil:
		return nil, fail("hybrid_override_pattern", "missing (neither hybrid_override_pattern nor layers_block_type is set)")
	case fromPattern != nil && fromTypes != nil:
		if kindsString(fromPattern) != kindsString(fromTypes) {
			return nil, fail("layers_block_type", "describes pattern %q but hybrid_override_pattern is %q", kindsString(fromTypes), kindsString(fromPattern))
		}
		c.Layers = fromPattern
	case fromPattern != nil:
		c.Layers = fromPattern
	default:
		c.Layers = fromTypes
	}
	if len(c.Layers) == 0 {
		return nil, fail("hybrid_override_pattern", "has no layers")
	}
	if len(c.Layers) > maxDim["num_hidden_layers"] {
		return nil, fail("hybrid_override_pattern", "describes %d layers, implausibly many: hyquant accepts at most %d", len(c.Layers), maxDim["num_hidden_layers"])
	}
	if raw.NumHiddenLayers != nil && *raw.NumHiddenLayers != len(c.Layers) {
		src := "hybrid_override_pattern"
		if fromPattern == nil {
			src = "layers_block_type"
		}
		return nil, fail("num_hidden_layers", "is %d but %s describes %d layers", *raw.NumHiddenLayers, src, len(c.Layers))
	}
	for i, k := range c.Layers {
		if k == MoELayer {
			return nil, fail("hybrid_override_pattern", "layer %d is a mixture-of-experts layer: MoE layers are not supported yet", i)
		}
	}

	// Attention head dimension: head_dim and/or attention_head_dim.
	switch {
	case raw.HeadDim != nil && raw.AttentionHeadDim != nil && *raw.HeadDim != *raw.AttentionHeadDim:
		return nil, fail("head_dim", "is %d but attention_head_dim is %d", *raw.HeadDim, *raw.AttentionHeadDim)
	case raw.AttentionHeadDim != nil:
		c.HeadDim, err = positive("attention_head_dim", raw.AttentionHeadDim, 0, true)
	case raw.HeadDim != nil:
		c.HeadDim, err = positive("head_dim", raw.HeadDim, 0, true)
	default:
		if c.HiddenSize%c.NumAttentionHeads != 0 {
			return nil, fail("head_dim", "missing, and hidden_size %d is not divisible by num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
		}
		c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	}
	if err != nil {
		return nil, err
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return nil, fail("num_key_value_heads", "%d does not divide num_attention_heads %d", c.NumKeyValueHeads, c.NumAttentionHeads)
	}

	// Mamba2 geometry.
	if c.MambaNumHeads*c.MambaHeadDim != c.Expand*c.HiddenSize {
		return nil, fail("mamba_num_heads", "mamba_num_heads * mamba_head_dim = %d * %d = %d must equal expand * hidden_size = %d * %d = %d",
			c.MambaNumHeads, c.MambaHeadDim, c.MambaNumHeads*c.MambaHeadDim, c.Expand, c.HiddenSize, c.Expand*c.HiddenSize)
	}
	if c.MambaNumHeads%c.NGroups != 0 {
		return nil, fail("n_groups", "%d does not divide mamba_num_heads %d", c.NGroups, c.MambaNumHeads)
	}

	c.MambaActivation = deref(raw.MambaHiddenAct, "silu")
	if c.MambaActivation != "silu" && c.MambaActivation != "swish" {
		return nil, fail("mamba_hidden_act", "%q is not supported (known: silu)", c.MambaActivation)
	}
	c.MLPActivation = deref(raw.MLPHiddenAct, "relu2")
	if c.MLPActivation != "relu2" && c.MLPActivation != "silu" {
		return nil, fail("mlp_hidden_act", "%q is not supported (known: relu2, silu)", c.MLPActivation)
	}

	c.UseBias = deref(raw.UseBias, false)
	c.UseConvBias = deref(raw.UseConvBias, true)
	c.MLPBias = deref(raw.MLPBias, false)
	c.AttentionBias = deref(raw.AttentionBias, false)
	c.TieWordEmbeddings = deref(raw.TieWordEmbeddings, false)
	c.TorchDType = deref(raw.TorchDType, deref(raw.DType, "bfloat16"))

	c.NormEps = deref(raw.LayerNormEpsilon, deref(raw.RMSNormEps, 1e-5))
	if !(c.NormEps > 0) {
		return nil, fail("layer_norm_epsilon", "must be positive, got %g", c.NormEps)
	}
	c.TimeStepLimit = [2]float64{0, math.Inf(1)}
	if raw.TimeStepLimit != nil {
		tl := *raw.TimeStepLimit
		if len(tl) != 2 {
			return nil, fail("time_step_limit", "must have two entries [min, max], has %d", len(tl))
		}
		lo, hi := float64(tl[0]), float64(tl[1])
		if math.IsNaN(lo) || math.IsNaN(hi) || lo < 0 || hi < lo {
			return nil, fail("time_step_limit", "[%g, %g] is not a range 0 <= min <= max", lo, hi)
		}
		c.TimeStepLimit = [2]float64{lo, hi}
	}
	if err := checkSize(c); err != nil {
		return nil, err
	}
	return c, nil
}

func kindsString(ks []LayerKind) string {
	var b strings.Builder
	for _, k := range ks {
		b.WriteByte(k.Symbol())
	}
	return b.String()
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
