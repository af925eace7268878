package runtime

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

const miniConfig = "../models/nemotron-h-mini/config.json"
const hf5Config = "testdata/nemotron-h-mini.config.hf5-saved.json"
const config8B = "../models/nemotron-h-8b-base-8k/config.json"

func mustConfig(t testing.TB, path string) *Config {
	t.Helper()
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The Hub form and the transformers 5.x form (layers_block_type, head_dim,
// bare Infinity) of the same model must parse to the same config.
func TestConfigBothForms(t *testing.T) {
	hub, hf5 := mustConfig(t, miniConfig), mustConfig(t, hf5Config)
	if hub.Pattern() != "M-M-M*-M-M-M-M*-M-M-" || hf5.Pattern() != hub.Pattern() {
		t.Fatalf("patterns %q / %q", hub.Pattern(), hf5.Pattern())
	}
	if hub.HeadDim != 64 || hf5.HeadDim != 64 || hub.NumKeyValueHeads != 1 {
		t.Fatalf("head dims %d / %d", hub.HeadDim, hf5.HeadDim)
	}
	for _, c := range []*Config{hub, hf5} {
		if c.TimeStepLimit[0] != 0 || !math.IsInf(c.TimeStepLimit[1], 1) {
			t.Errorf("%s: time_step_limit %v, want [0, +Inf]", c.Source, c.TimeStepLimit)
		}
		if c.InProjOut() != 1544 || c.ConvDim() != 1024 || c.MambaIntermediate() != 512 {
			t.Errorf("%s: in_proj %d conv %d inner %d", c.Source, c.InProjOut(), c.ConvDim(), c.MambaIntermediate())
		}
	}
	big := mustConfig(t, config8B)
	if got := big.LayersOf(AttentionLayer); len(got) != 4 || got[0] != 7 || got[1] != 18 || got[2] != 29 || got[3] != 40 {
		t.Errorf("8B attention layers %v, want [7 18 29 40]", got)
	}
	if n := len(big.LayersOf(Mamba2Layer)); n != 24 {
		t.Errorf("8B has %d Mamba2 layers, want 24", n)
	}
	if big.HeadDim != 128 || big.InProjOut() != 2*8192+2*8*128+128 {
		t.Errorf("8B head_dim %d, in_proj %d", big.HeadDim, big.InProjOut())
	}
}

func TestConfigErrorsNameFileAndField(t *testing.T) {
	base, err := os.ReadFile(miniConfig)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) []byte {
		if !strings.Contains(string(base), old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return []byte(strings.Replace(string(base), old, new, 1))
	}
	cases := []struct {
		name  string
		data  []byte
		field string
		want  string
	}{
		{"pattern vs layers", edit(`"num_hidden_layers": 20`, `"num_hidden_layers": 21`), "num_hidden_layers", "describes 20 layers"},
		{"bad pattern char", edit(`"M-M-M*-M-M-M-M*-M-M-"`, `"M-M-X*-M-M-M-M*-M-M-"`), "hybrid_override_pattern", `'X' at index 4`},
		{"moe", edit(`"M-M-M*-M-M-M-M*-M-M-"`, `"M-M-M*-M-M-M-M*-M-ME"`), "hybrid_override_pattern", "not supported yet"},
		{"heads x dim", edit(`"mamba_head_dim": 64`, `"mamba_head_dim": 32`), "mamba_num_heads", "must equal expand * hidden_size"},
		{"n_groups", edit(`"n_groups": 2`, `"n_groups": 3`), "n_groups", "does not divide mamba_num_heads 8"},
		{"activation", edit(`"mlp_hidden_act": "relu2"`, `"mlp_hidden_act": "gelu"`), "mlp_hidden_act", `"gelu" is not supported`},
		{"kv heads", edit(`"num_key_value_heads": 1`, `"num_key_value_heads": 3`), "num_key_value_heads", "does not divide"},
		{"negative", edit(`"hidden_size": 256`, `"hidden_size": -256`), "hidden_size", "must be positive"},
		{"missing", edit(`"vocab_size": 8192,`, ``), "vocab_size", "missing"},
		{"type", edit(`"n_groups": 2`, `"n_groups": "two"`), "n_groups", "expected int"},
		{"head dims disagree", edit(`"attention_head_dim": 64`, `"attention_head_dim": 32`), "head_dim", "attention_head_dim is 32"},
		{"time step limit", edit(`"rms_norm_eps": 1e-05,`, `"rms_norm_eps": 1e-05, "time_step_limit": [0.5, 0.1],`), "time_step_limit", "not a range"},
		{"model type", edit(`"model_type": "nemotron_h"`, `"model_type": "llama"`), "model_type", "not a NemotronH"},
		{"vocab 2^62", edit(`"vocab_size": 8192`, `"vocab_size": 4611686018427387904`), "vocab_size", "4611686018427387904 is implausibly large: hyquant accepts at most 4194304"},
		{"huge hidden", edit(`"hidden_size": 256`, `"hidden_size": 9223372036854775807`), "hidden_size", "implausibly large"},
		{"huge layers", edit(`"num_hidden_layers": 20`, `"num_hidden_layers": 1000000`), "num_hidden_layers", "implausibly large"},
		{"huge kernel", edit(`"expand": 2,`, `"expand": 2, "conv_kernel": 100000,`), "conv_kernel", "at most 64"},
		{"syntax", edit(`"expand": 2,`, `"expand": 2,,`), "", "invalid JSON at line 21, column 16"},
	}
	for _, c := range cases {
		_, err := ParseConfig(c.data, "my/config.json")
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: got %v, want a ConfigError", c.name, err)
			continue
		}
		if ce.File != "my/config.json" || ce.Field != c.field || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %q (field %q), want field %q and %q", c.name, err, ce.Field, c.field, c.want)
		}
	}
}

func TestQuoteNonFinite(t *testing.T) {
	in := `{"a": [0.0, Infinity], "b": "Infinity NaN \"x", "c": -Infinity, "d": NaN}`
	want := `{"a": [0.0, "Infinity"], "b": "Infinity NaN \"x", "c": "-Infinity", "d": "NaN"}`
	if got := string(quoteNonFinite([]byte(in))); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// FuzzParseConfig: any input is a config or an error, never a panic, and an
// accepted config is self-consistent.
func FuzzParseConfig(f *testing.F) {
	for _, p := range []string{miniConfig, hf5Config, config8B} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"time_step_limit":[0,Infinity]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b, "fuzz.json")
		if err != nil {
			return
		}
		if c.MambaNumHeads*c.MambaHeadDim != c.Expand*c.HiddenSize || c.MambaNumHeads%c.NGroups != 0 || len(c.Layers) == 0 {
			t.Fatalf("inconsistent config accepted: %+v", c)
		}
		inv := BuildInventory(c)
		if inv.TotalParams() <= 0 {
			t.Fatalf("empty inventory")
		}
	})
}

// Dimensions each within bounds whose product is still too large: refused
// as a whole-file error naming the tensor where the sum passed the limit,
// before any caller forms a wrapped parameter count.
func TestConfigRefusesImplausibleTotal(t *testing.T) {
	cfg := `{"model_type": "nemotron_h", "vocab_size": 1048576, "hidden_size": 65536, "intermediate_size": 1048576,
	"hybrid_override_pattern": "` + strings.Repeat("-", 100) + `", "num_attention_heads": 64, "num_key_value_heads": 8,
	"mamba_num_heads": 16384, "mamba_head_dim": 8, "n_groups": 8, "ssm_state_size": 128}`
	_, err := ParseConfig([]byte(cfg), "big/config.json")
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.File != "big/config.json" || ce.Field != "" ||
		!strings.Contains(err.Error(), "imply more than 1099511627776 (2^40) parameters (at tensor backbone.layers.") {
		t.Fatalf("got %v", err)
	}
	// The same shapes with 4 layers are accepted, and the count is exact.
	small := strings.Replace(cfg, strings.Repeat("-", 100), "----", 1)
	c, err := ParseConfig([]byte(small), "ok/config.json")
	if err != nil {
		t.Fatal(err)
	}
	want := int64(2*1048576*65536 + 4*(65536+2*1048576*65536) + 65536)
	if got := BuildInventory(c).TotalParams(); got != want {
		t.Fatalf("total %d, want %d", got, want)
	}
}
