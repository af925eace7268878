package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/runtime/safetensors"
)

func TestInventoryMatchesMiniCheckpoint(t *testing.T) {
	inv := BuildInventory(mustConfig(t, miniConfig))
	ck, err := OpenCheckpoint("../models/nemotron-h-mini")
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if mm := inv.Compare(ck); len(mm) != 0 {
		t.Fatalf("mini checkpoint differs from the derived inventory: %v", mm)
	}
	if len(inv.Params) != len(ck.Names()) || len(inv.Params) != 121 {
		t.Fatalf("%d derived tensors, %d in the checkpoint, want 121", len(inv.Params), len(ck.Names()))
	}
	if got := inv.TotalParams(); got != 15213528 {
		t.Errorf("mini has %d parameters, want 15,213,528", got)
	}
	// The bare parameters a module walk misses are there, in ssm_core.
	for _, n := range []string{"A_log", "D", "dt_bias"} {
		p, ok := inv.Lookup("backbone.layers.0.mixer." + n)
		if !ok || p.Category != SSMCore || p.Shape[0] != 8 {
			t.Errorf("%s: %+v", n, p)
		}
	}
}

func TestInventory8B(t *testing.T) {
	inv := BuildInventory(mustConfig(t, config8B))
	if got := inv.TotalParams(); got != 8100852736 {
		t.Fatalf("8B total %d, want 8,100,852,736", got)
	}
	want := map[Category]int64{
		SSMInProj: 1824522240, SSMOutProj: 805306368, SSMConv1d: 1228800, SSMNorm: 196608, SSMCore: 9216,
		MLPUp: 2113929216, MLPDown: 2113929216, AttnQ: 67108864, AttnK: 16777216, AttnV: 16777216, AttnO: 67108864,
		Embedding: 536870912, LMHead: 536870912, BlockNorm: 212992, FinalNorm: 4096,
	}
	for _, s := range inv.ByCategory() {
		if want[s.Category] != s.Params {
			t.Errorf("%s: %d parameters, want %d", s.Category, s.Params, want[s.Category])
		}
	}
	if len(inv.Params) != 311 {
		t.Errorf("%d tensors, want 311", len(inv.Params))
	}
}

// tinyConfig is a 3-layer model (Mamba2, MLP, attention) for checkpoint tests.
const tinyConfig = `{"model_type":"nemotron_h","vocab_size":32,"hidden_size":16,"intermediate_size":24,
"hybrid_override_pattern":"M-*","num_attention_heads":2,"num_key_value_heads":1,"head_dim":8,
"mamba_num_heads":4,"mamba_head_dim":8,"n_groups":2,"ssm_state_size":4,"conv_kernel":4,"expand":2,
"torch_dtype":"bfloat16"}`

// writeShards writes the tensors of inv into a model directory, split over
// two shards with an index; edit may change the specs first.
func writeShards(t *testing.T, inv *Inventory, edit func(specs []safetensors.TensorSpec) []safetensors.TensorSpec) string {
	t.Helper()
	dir := t.TempDir()
	var specs []safetensors.TensorSpec
	for _, p := range inv.Params {
		shape := make([]int64, len(p.Shape))
		for i, d := range p.Shape {
			shape[i] = int64(d)
		}
		specs = append(specs, safetensors.TensorSpec{Name: p.Name, DType: safetensors.BF16, Shape: shape})
	}
	if edit != nil {
		specs = edit(specs)
	}
	index := map[string]string{}
	for i, s := range specs {
		index[s.Name] = []string{"a.safetensors", "b.safetensors"}[i%2]
	}
	for _, shard := range []string{"a.safetensors", "b.safetensors"} {
		var mine []safetensors.TensorSpec
		for i, s := range specs {
			if []string{"a.safetensors", "b.safetensors"}[i%2] == shard {
				mine = append(mine, s)
			}
		}
		w, err := safetensors.Create(filepath.Join(dir, shard), mine, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range mine {
			if err := w.WriteTensor(s.Name, make([]byte, s.Bytes())); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": index})
	os.WriteFile(filepath.Join(dir, IndexFile), b, 0o644)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(tinyConfig), 0o644)
	return dir
}

func tinyInventory(t *testing.T) *Inventory {
	c, err := ParseConfig([]byte(tinyConfig), "tiny.json")
	if err != nil {
		t.Fatal(err)
	}
	return BuildInventory(c)
}

func TestCompareListsEveryProblemAtOnce(t *testing.T) {
	inv := tinyInventory(t)
	dir := writeShards(t, inv, func(specs []safetensors.TensorSpec) []safetensors.TensorSpec {
		var out []safetensors.TensorSpec
		for _, s := range specs {
			switch s.Name {
			case "backbone.layers.0.mixer.D": // missing
				continue
			case "backbone.layers.1.mixer.up_proj.weight": // mis-shaped
				s.Shape = []int64{25, 16}
			case "backbone.layers.2.mixer.q_proj.weight": // unreadable dtype
				s.DType = safetensors.I8
			}
			out = append(out, s)
		}
		return append(out, safetensors.TensorSpec{Name: "backbone.layers.0.mixer.extra", DType: safetensors.F32, Shape: []int64{3}})
	})
	ck, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	got := map[string]string{}
	for _, m := range inv.Compare(ck) {
		got[m.Name] = m.Kind
	}
	want := map[string]string{
		"backbone.layers.0.mixer.D":              "missing",
		"backbone.layers.1.mixer.up_proj.weight": "shape",
		"backbone.layers.2.mixer.q_proj.weight":  "dtype",
		"backbone.layers.0.mixer.extra":          "unexpected",
	}
	for n, k := range want {
		if got[n] != k {
			t.Errorf("%s: got %q, want %q (all: %v)", n, got[n], k, got)
		}
	}
	if err := inv.CheckAgainst(ck); err == nil || !strings.Contains(err.Error(), "problems") {
		t.Errorf("CheckAgainst = %v", err)
	}
}

func TestCheckpointIndexErrors(t *testing.T) {
	inv := tinyInventory(t)
	cases := []struct {
		name string
		edit func(dir string)
		want string
	}{
		{"missing shard", func(dir string) { os.Remove(filepath.Join(dir, "b.safetensors")) }, "b.safetensors, which does not exist"},
		{"wrong file", func(dir string) {
			rewriteIndex(t, dir, func(m map[string]string) { m["backbone.embeddings.weight"] = "b.safetensors" })
		}, `"backbone.embeddings.weight" is mapped to b.safetensors but found in a.safetensors`},
		{"tensor not in file", func(dir string) {
			rewriteIndex(t, dir, func(m map[string]string) { m["ghost"] = "a.safetensors" })
		}, `"ghost" is mapped to a.safetensors, which does not hold it`},
		{"unlisted", func(dir string) {
			rewriteIndex(t, dir, func(m map[string]string) { delete(m, "backbone.norm_f.weight") })
		}, "is not listed in the index"},
		{"path escape", func(dir string) {
			rewriteIndex(t, dir, func(m map[string]string) { m["backbone.norm_f.weight"] = "../x.safetensors" })
		}, "not a file name"},
		{"bad json", func(dir string) { os.WriteFile(filepath.Join(dir, IndexFile), []byte("{"), 0o644) }, "not valid JSON"},
		{"duplicate", func(dir string) {
			os.Remove(filepath.Join(dir, IndexFile))
			w, _ := safetensors.Create(filepath.Join(dir, "c.safetensors"), []safetensors.TensorSpec{{Name: "backbone.norm_f.weight", DType: safetensors.BF16, Shape: []int64{16}}}, nil)
			w.WriteTensor("backbone.norm_f.weight", make([]byte, 32))
			w.Close()
			idx := map[string]string{}
			for _, f := range []string{"a.safetensors", "c.safetensors"} {
				sf, _ := safetensors.ReadHeader(filepath.Join(dir, f))
				for _, ti := range sf.Tensors {
					idx[ti.Name] = f
				}
			}
			b, _ := json.Marshal(map[string]any{"weight_map": idx})
			os.WriteFile(filepath.Join(dir, IndexFile), b, 0o644)
		}, "is also in"},
	}
	for _, c := range cases {
		dir := writeShards(t, inv, nil)
		c.edit(dir)
		_, err := OpenCheckpoint(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
	// A directory without weights says so.
	if _, err := OpenCheckpoint(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no model.safetensors") {
		t.Errorf("empty dir: %v", err)
	}
}

func rewriteIndex(t *testing.T, dir string, edit func(map[string]string)) {
	b, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	json.Unmarshal(b, &idx)
	edit(idx.WeightMap)
	b, _ = json.Marshal(map[string]any{"weight_map": idx.WeightMap})
	os.WriteFile(filepath.Join(dir, IndexFile), b, 0o644)
}

func TestTinyCheckpointRoundTrip(t *testing.T) {
	inv := tinyInventory(t)
	dir := writeShards(t, inv, nil)
	ck, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	if err := inv.CheckAgainst(ck); err != nil {
		t.Fatal(err)
	}
	if _, err := ck.Float32("backbone.layers.0.mixer.in_proj.weight", 1, 2); err == nil || !strings.Contains(err.Error(), "has shape") {
		t.Errorf("shape check: %v", err)
	}
}
