package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/runtime/gguf"
)

// llama-quantize's Q4_K_M of the mini (runtime/testdata/README.md).
const q4kmGGUF = "../../runtime/testdata/nemotron-h-mini.Q4_K_M.gguf"

// A new user's first steps with a llama.cpp file: inspect shows its types
// and exact tensor bytes, plan starts from it, quantize turns it into a
// packed checkpoint, eval scores both.
func TestGGUFEverywhere(t *testing.T) {
	out, err := run(t, "inspect", q4kmGGUF, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var inv struct {
		TotalBytes int64 `json:"total_bytes"`
		Categories []struct {
			Name     string `json:"name"`
			StoredAs string `json:"stored_as"`
		} `json:"categories"`
		Tensors []struct {
			Name     string `json:"name"`
			DType    string `json:"dtype"`
			GGUFName string `json:"gguf_name"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		t.Fatal(err)
	}
	// llama-quantize reports 9,633,888 bytes of tensor data for this file.
	if inv.TotalBytes != 9633888 || len(inv.Tensors) != 121 {
		t.Fatalf("inspect: %d bytes in %d tensors, want 9,633,888 in 121", inv.TotalBytes, len(inv.Tensors))
	}
	types := map[string]string{}
	for _, c := range inv.Categories {
		types[c.Name] = c.StoredAs
	}
	if types["mlp_down"] != "q4_K 5, q6_K 4" || types["lm_head"] != "q6_K 1" || types["ssm_conv1d"] != "f32 18" {
		t.Errorf("stored types per category: %v", types)
	}
	if inv.Tensors[0].Name != "backbone.embeddings.weight" || inv.Tensors[0].GGUFName != "token_embd.weight" || inv.Tensors[0].DType != "q4_K" {
		t.Errorf("first tensor %+v", inv.Tensors[0])
	}

	out, err = run(t, "plan", q4kmGGUF, "--plan", "seed-emb8")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "GGUF, nemotron_h") || !strings.Contains(out, "Quantized: 13,044,882 bytes") {
		t.Errorf("plan from a GGUF:\n%s", out)
	}

	if testing.Short() {
		return
	}
	dir := filepath.Join(t.TempDir(), "q")
	if _, err := run(t, "quantize", "--model", q4kmGGUF, "--plan", "seed-emb8", "--out", dir); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{q4kmGGUF, dir} {
		out, err = run(t, "eval", "--model", m, "--max-windows", "1", "--seq-len", "256", "--json")
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			PPL    float64 `json:"ppl"`
			Format string  `json:"format"`
		}
		if err := json.Unmarshal([]byte(out), &e); err != nil {
			t.Fatal(err)
		}
		if !(e.PPL > 50 && e.PPL < 500) {
			t.Errorf("eval %s: ppl %g (format %s)", m, e.PPL, e.Format)
		}
	}
}

// hyquant's own Q4_K_M, from the Hub checkpoint through the shipped recipe
// plan and llama.cpp's rounding, is llama-quantize's file tensor for
// tensor: same types, same blocks, same F32 tensors.
func TestExportRecipeEqualsLlamaQuantize(t *testing.T) {
	if testing.Short() {
		t.Skip("quantises the mini")
	}
	out := filepath.Join(t.TempDir(), "mini.Q4_K_M.gguf")
	if _, err := run(t, "export", "--plan", "llama-q4_k_m", "--out", out); err != nil {
		t.Fatal(err)
	}
	ours, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	theirs, err := gguf.Open(q4kmGGUF)
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	if len(ours.Tensors) != len(theirs.Tensors) {
		t.Fatalf("%d tensors, llama-quantize wrote %d", len(ours.Tensors), len(theirs.Tensors))
	}
	for _, tt := range theirs.Tensors {
		a, ot, err := ours.TensorData(tt.Name)
		if err != nil {
			t.Errorf("%s: %v", tt.Name, err)
			continue
		}
		b, _, _ := theirs.TensorData(tt.Name)
		if ot.Type != tt.Type || !bytes.Equal(a, b) {
			t.Errorf("%s: %s, llama-quantize wrote %s with other bytes", tt.Name, ot.Type, tt.Type)
		}
	}
	if v, _ := ours.Lookup("general.file_type"); v.Display(0) != "15" {
		t.Errorf("file type %s, want 15 (MOSTLY_Q4_K_M)", v.Display(0))
	}

	// A plan GGUF cannot express is refused, naming the tensor and why.
	_, err = run(t, "export", "--plan", "seed", "--out", filepath.Join(t.TempDir(), "seed.gguf"))
	if err == nil || !strings.Contains(err.Error(), "backbone.layers.0.mixer.in_proj.weight: method rtn stores hyquant's group format") {
		t.Errorf("export of the seed plan: %v", err)
	}
}

// With llama.cpp's own importance matrix, hyquant's recipe exports equal
// llama-quantize's imatrix files (tensors copied from them into testdata).
func TestExportImatrixRecipeEqualsLlamaQuantize(t *testing.T) {
	if testing.Short() {
		t.Skip("quantises the mini")
	}
	for _, c := range []struct{ recipe, subset string }{{"Q4_K_M", "testdata/imat-Q4_K_M.subset.gguf"}, {"Q3_K_M", "testdata/imat-Q3_K_M.subset.gguf"}} {
		dir := t.TempDir()
		plan := filepath.Join(dir, "plan.yaml")
		if err := os.WriteFile(plan, []byte("name: r\nllama_recipe: {recipe: "+c.recipe+", imatrix: true}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, "out.gguf")
		if _, err := run(t, "export", "--plan", plan, "--imatrix", "../../kernels/ggml/testdata/quantk/imatrix-wt103.gguf", "--out", out); err != nil {
			t.Fatal(err)
		}
		ours, err := gguf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := gguf.Open(c.subset)
		if err != nil {
			t.Fatal(err)
		}
		for _, rt := range ref.Tensors {
			a, ot, err := ours.TensorData(rt.Name)
			if err != nil {
				t.Fatalf("%s: %v", rt.Name, err)
			}
			b, _, _ := ref.TensorData(rt.Name)
			if ot.Type != rt.Type || !bytes.Equal(a, b) {
				t.Errorf("%s %s: %s, llama-quantize wrote %s with other bytes", c.recipe, rt.Name, ot.Type, rt.Type)
			}
		}
		ours.Close()
		ref.Close()
	}
}
