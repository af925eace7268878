package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run executes the CLI with args and returns its standard output.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestInspectAndPlanJSON8B(t *testing.T) {
	out, err := run(t, "inspect", "../../models/nemotron-h-8b-base-8k/config.json", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var inv struct {
		TotalParams int64 `json:"total_params"`
		TotalBytes  int64 `json:"total_bytes"`
		Categories  []struct {
			Name   string `json:"name"`
			Params int64  `json:"params"`
		} `json:"categories"`
		Tensors []struct {
			Name  string `json:"name"`
			Layer int    `json:"layer"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		t.Fatal(err)
	}
	if inv.TotalParams != 8100852736 || inv.TotalBytes != 16201705472 || len(inv.Categories) != 15 || len(inv.Tensors) != 311 {
		t.Fatalf("inspect: %d params, %d bytes, %d categories, %d tensors", inv.TotalParams, inv.TotalBytes, len(inv.Categories), len(inv.Tensors))
	}

	out, err = run(t, "plan", "nemotron-h-8b-base-8k", "--plan", "seed-emb8", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Baseline  int64   `json:"baseline_bytes"`
		Quantized int64   `json:"quantized_bytes"`
		Reduction float64 `json:"reduction"`
		Claim     struct {
			Reaches bool `json:"reaches_58_percent"`
		} `json:"claim_58_percent"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatal(err)
	}
	if p.Baseline != 16201705472 || p.Quantized != 6829828144 || !p.Claim.Reaches || math.Abs(p.Reduction-0.5785) > 1e-4 {
		t.Fatalf("plan: %+v", p)
	}

	text, err := run(t, "plan", "nemotron-h-8b-base-8k", "--plan", "seed")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"7,903,045,680", "16.202 GB (15.089 GiB)", "does NOT reach 58%", "Shipped plan seed-emb8    reduction 57.85%, reaches 58%: yes", "Shipped plan llama-q4_k_m reduction 69.29%, reaches 58%: yes"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan output lacks %q", want)
		}
	}
}

func TestQuantizeThenEval(t *testing.T) {
	if testing.Short() {
		t.Skip("quantises and runs the mini model")
	}
	dir := filepath.Join(t.TempDir(), "q")
	out, err := run(t, "quantize", "--plan", "seed", "--out", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var q struct {
		TensorBytes  int64 `json:"tensor_bytes"`
		PlannedBytes int64 `json:"planned_bytes"`
	}
	if err := json.Unmarshal([]byte(out), &q); err != nil {
		t.Fatal(err)
	}
	if q.TensorBytes != 17176802 || q.PlannedBytes != q.TensorBytes {
		t.Fatalf("quantize wrote %d bytes, planned %d:\n%s", q.TensorBytes, q.PlannedBytes, out)
	}
	out, err = run(t, "eval", "--model", dir, "--seq-len", "128", "--max-windows", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		PPL     float64 `json:"ppl"`
		Windows int     `json:"windows"`
		Format  string  `json:"format"`
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	if e.Windows != 2 || e.Format != "hyquant-quantized" || !(e.PPL > 1 && e.PPL < 1000) {
		t.Fatalf("eval: %+v", e)
	}
}

// A checkpoint that does not match its config: every problem is listed and
// the command exits with status 1.
func TestInspectReportsMismatchesWithStatus1(t *testing.T) {
	dir := t.TempDir()
	src := "../../models/nemotron-h-mini"
	for _, f := range []string{"model.safetensors.index.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	cfg, _ := os.ReadFile(filepath.Join(src, "config.json"))
	cfg = bytes.Replace(cfg, []byte(`"intermediate_size": 1280`), []byte(`"intermediate_size": 1024`), 1)
	os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o644)

	out, err := run(t, "inspect", dir)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("mismatching checkpoint: err %v", err)
	}
	if !strings.Contains(out, "The checkpoint does not match the config: 18 problems") ||
		!strings.Contains(out, "backbone.layers.1.mixer.up_proj.weight: checkpoint has [1280 256], config implies [1024 256]") {
		t.Fatalf("output:\n%s", out)
	}

	_, err = run(t, "inspect", "/nonexistent/model")
	if err == nil || !strings.Contains(err.Error(), "no such file or directory, and not an embedded model") {
		t.Fatalf("missing model: %v", err)
	}
	_, err = run(t, "plan", "--plan", "no-such-plan")
	if err == nil || !strings.Contains(err.Error(), "not a shipped plan") || errors.As(err, &ee) {
		t.Fatalf("missing plan: %v", err)
	}
}
