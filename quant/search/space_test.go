package search

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/internal/yamlx"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

func bf16(string) safetensors.DType { return safetensors.BF16 }

func space(t *testing.T, c *runtime.Config) *Space {
	t.Helper()
	fs, err := ParseFormats(DefaultFormats)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSpace(runtime.BuildInventory(c), bf16, fs, RoundGPTQ, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func config(t *testing.T, path string) *runtime.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := runtime.ParseConfig(data, path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSearchedPlanBytes: for random assignments of the mini and of the 8B
// config, the plan a search writes, resolved (and read back from its YAML)
// the way `hyquant plan` resolves it, has exactly the bytes the search
// counted; and the byte counts themselves are the hand-computable ones.
func TestSearchedPlanBytes(t *testing.T) {
	for _, path := range []string{"../../models/nemotron-h-mini/config.json", "../../models/nemotron-h-8b-base-8k/config.json"} {
		c := config(t, path)
		s := space(t, c)
		rng := rand.New(rand.NewPCG(1, 2))
		for trial := 0; trial < 5; trial++ {
			pick := make([]int, len(s.Tensors))
			for i, tt := range s.Tensors {
				pick[i] = rng.IntN(len(tt.Options))
			}
			p := s.Plan(pick, "t", "")
			if _, err := s.CheckPlan(p, pick); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			m, err := yamlx.Parse(p.YAML(), "searched.yaml")
			if err != nil {
				t.Fatal(err)
			}
			back, err := plan.ParsePlan(m)
			if err != nil {
				t.Fatalf("%s: the searched plan does not read back: %v\n%s", path, err, p.YAML())
			}
			r, err := back.Resolve(s.Inventory, bf16)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := r.Footprint().Quantized, s.Bytes(pick); got != want {
				t.Errorf("%s: plan read back is %d bytes, the search counted %d", path, got, want)
			}
		}
	}
	// Hand-computed sizes on the mini: in_proj is 1544×256. q4_K stores
	// 144 bytes per 256 values, q8_0 34 per 32, bf16 2 per value.
	s := space(t, config(t, "../../models/nemotron-h-mini/config.json"))
	in := s.Tensors[1]
	if in.Param.Name != "backbone.layers.0.mixer.in_proj.weight" {
		t.Fatalf("tensor 1 is %s", in.Param.Name)
	}
	want := map[string]int64{"q4_K": 1544 * 144, "q8_0": 1544 * 8 * 34, "bf16": 1544 * 256 * 2, "q2_K": 1544 * 84, "q6_K": 1544 * 210}
	for _, c := range in.Options {
		if w, ok := want[c.Format.Name]; ok && c.Bytes != w {
			t.Errorf("in_proj in %s: %d bytes, want %d", c.Format.Name, c.Bytes, w)
		}
	}
	// Everything not searched is F32: 4 bytes a value.
	var fixed int64
	for _, p := range s.Inventory.Params {
		if !searched(p) {
			fixed += 4 * p.NumElements()
		}
	}
	if s.Fixed != fixed {
		t.Errorf("fixed bytes %d, want %d", s.Fixed, fixed)
	}
}

func TestParseBudget(t *testing.T) {
	c := config(t, "../../models/nemotron-h-8b-base-8k/config.json")
	s := space(t, c)
	basis := BudgetBasis{StoredBytes: s.Stored, Params: s.Inventory.TotalParams(), PlanBytes: func(ref string) (int64, error) {
		if ref == "seed-emb8" {
			return 13015266, nil
		}
		return 0, os.ErrNotExist
	}}
	if s.Stored != 16201705472 {
		t.Fatalf("the 8B's bf16 bytes are %d, want 16,201,705,472", s.Stored)
	}
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"13.0MB", 13000000},
		{"13,015,266", 13015266},
		{"1.5GiB", 1610612736},
		{"6.5GB", 6500000000},
		// 58% smaller: floor(16,201,705,472 × 0.42).
		{"58%", 6804716298},
		{"seed-emb8", 13015266},
	} {
		b, err := ParseBudget(c.in, basis)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if b.Bytes != c.want {
			t.Errorf("%s: %d bytes, want %d", c.in, b.Bytes, c.want)
		}
	}
	b, err := ParseBudget("4.5bpw", basis)
	if err != nil || b.Bytes != int64(math.Floor(4.5*float64(basis.Params)/8)) {
		t.Errorf("4.5bpw: %d, %v", b.Bytes, err)
	}
	for _, bad := range []string{"", "-3MB", "100%", "0bpw", "lots", "NaNMB", "1e30GB", "0.5", "13,5MB", "4,5bpw", "1,00"} {
		if _, err := ParseBudget(bad, basis); err == nil {
			t.Errorf("budget %q was accepted", bad)
		}
	}
}

func TestParseFormats(t *testing.T) {
	fs, err := ParseFormats("q4_K, Q8_0,bf16,iq4_xs")
	if err != nil || len(fs) != 4 || fs[0].Name != "q4_K" || fs[2].Keep != safetensors.BF16 {
		t.Fatalf("%v %v", fs, err)
	}
	for _, bad := range []string{"", "q4_K,q4_k", "q9_K", "f64"} {
		if _, err := ParseFormats(bad); err == nil {
			t.Errorf("formats %q were accepted", bad)
		}
	}
}

func TestRecordsIdentity(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "work")
	id := Identity{Model: "m", Formats: []string{"q4_K"}, Rounding: "gptq", Objective: "kl", Calibration: "c", Windows: "w"}
	r, err := OpenRecords(dir, id, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Save("sensitivity/x@q4_K.json", SensitivityRecord{Tensor: "x", Increase: 0.5}); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenRecords(dir, id, false); err != nil {
		t.Fatalf("the same identity was refused: %v", err)
	}
	other := id
	other.Objective = "ppl"
	_, err = OpenRecords(dir, other, false)
	if err == nil || !strings.Contains(err.Error(), "objective kl, not ppl") {
		t.Fatalf("another identity: %v", err)
	}
	r, err = OpenRecords(dir, other, true)
	if err != nil {
		t.Fatal(err)
	}
	var rec SensitivityRecord
	if ok, _ := r.Load("sensitivity/x@q4_K.json", &rec); ok {
		t.Error("--force kept a record of the old identity")
	}
	full := t.TempDir()
	os.WriteFile(filepath.Join(full, "notes.txt"), []byte("mine"), 0o644)
	if _, err := OpenRecords(full, id, false); err == nil {
		t.Error("a non-empty directory without an identity was taken over")
	}
}
