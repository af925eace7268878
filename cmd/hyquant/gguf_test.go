package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
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
