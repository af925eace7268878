package llamacpp

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/runtime"
)

// For every file llama-quantize wrote from the mini's bf16 GGUF (plain and
// with an importance matrix; testdata/README.md), the recipe gives each
// tensor the type llama-quantize chose and the same total bytes.
func TestAssignMatchesLlamaQuantize(t *testing.T) {
	raw, err := os.ReadFile("testdata/mini-recipes.json")
	if err != nil {
		t.Fatal(err)
	}
	var files map[string]struct {
		Recipe      string            `json:"recipe"`
		Imatrix     bool              `json:"imatrix"`
		TensorBytes int64             `json:"tensor_bytes"`
		Types       map[string]string `json:"types"`
	}
	if err := json.Unmarshal(raw, &files); err != nil {
		t.Fatal(err)
	}
	if len(files) < 18 {
		t.Fatalf("%d files in the fixture", len(files))
	}
	c, err := runtime.LoadConfig("../../models/nemotron-h-mini/config.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, f := range files {
		r, err := Lookup(f.Recipe)
		if err != nil {
			t.Fatal(err)
		}
		layout, err := Assign(c, r, ggml.BF16, Options{Imatrix: f.Imatrix})
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(layout) != len(f.Types) {
			t.Errorf("%s: %d tensors, llama-quantize wrote %d", name, len(layout), len(f.Types))
		}
		for _, l := range layout {
			want, err := ggml.ParseType(f.Types[l.GGUF])
			if err != nil {
				t.Fatalf("%s: %s: %v", name, l.GGUF, err)
			}
			if l.Type != want {
				t.Errorf("%s: %s is %s, llama-quantize chose %s", name, l.GGUF, l.Type, want)
			}
		}
		if got := Bytes(layout); got != f.TensorBytes {
			t.Errorf("%s: %d tensor bytes, llama-quantize wrote %d", name, got, f.TensorBytes)
		}
	}
}

// Recipes whose types need an importance matrix are refused without one,
// as llama-quantize refuses them.
func TestAssignNeedsImatrix(t *testing.T) {
	c, err := runtime.LoadConfig("../../models/nemotron-h-mini/config.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"IQ2_XS", "IQ2_XXS", "IQ3_XXS", "Q2_K_S"} {
		r, _ := Lookup(name)
		if _, err := Assign(c, r, ggml.BF16, Options{}); err == nil {
			t.Errorf("%s without an importance matrix was accepted", name)
		}
	}
	if _, err := Lookup("Q4_K_X"); err == nil {
		t.Error("an unknown recipe was found")
	}
}

// For the published 8B config, Q4_K_M comes to what llama-quantize reports
// for an 8B-shaped nemotron_h file: "quant size = 4744.99 MiB (4.91 BPW)".
func TestAssign8BQ4KM(t *testing.T) {
	c, err := runtime.LoadConfig("../../models/nemotron-h-8b-base-8k/config.json")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := Lookup("Q4_K_M")
	layout, err := Assign(c, r, ggml.BF16, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := Bytes(layout)
	mib := float64(b) / (1 << 20)
	bpw := float64(b) * 8 / float64(runtime.BuildInventory(c).TotalParams())
	t.Logf("8B Q4_K_M: %d bytes = %.2f MiB, %.2f BPW", b, mib, bpw)
	if got := fmt.Sprintf("%.2f", mib); got != "4744.99" {
		t.Errorf("8B Q4_K_M is %s MiB, llama-quantize reports 4744.99", got)
	}
}
