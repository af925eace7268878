package runtime

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteSyntheticMini(t *testing.T) {
	cfgBytes, err := os.ReadFile(miniConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustConfig(t, miniConfig)
	dir := t.TempDir()
	var last int64
	err = WriteSynthetic(cfg, cfgBytes, dir, SynthOptions{Seed: 3, ShardBytes: 10e6, Progress: func(done, total int64) {
		if done < last || done > total {
			t.Fatalf("progress %d of %d after %d", done, total, last)
		}
		last = done
	}})
	if err != nil {
		t.Fatal(err)
	}
	if last != 2*15213528 {
		t.Errorf("wrote %d bytes, want %d", last, 2*15213528)
	}
	shards, _ := filepath.Glob(filepath.Join(dir, "model-*-of-*.safetensors"))
	if len(shards) < 3 {
		t.Errorf("%d shards for 30 MB at 10 MB a shard", len(shards))
	}
	ck, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	inv := BuildInventory(cfg)
	if err := inv.CheckAgainst(ck); err != nil {
		t.Fatal(err)
	}
	// Realistic scales.
	w, _ := ck.Float32("backbone.layers.1.mixer.up_proj.weight")
	var ss float64
	for _, v := range w {
		ss += float64(v) * float64(v)
	}
	if std := math.Sqrt(ss / float64(len(w))); math.Abs(std-0.02) > 0.001 {
		t.Errorf("up_proj std %.4f, want 0.02", std)
	}
	aLog, _ := ck.Float32("backbone.layers.0.mixer.A_log")
	for _, v := range aLog {
		if v < 0 || v > float32(math.Log(16))+0.01 {
			t.Errorf("A_log %v outside log [1, 16]", v)
		}
	}
	// It runs, and gives finite losses.
	m, err := LoadModel(cfg, NewCheckpointWeights(ck, inv, WeightsMapped))
	if err != nil {
		t.Fatal(err)
	}
	nll, err := m.NLL([]int{1, 5, 9, 200, 3000, 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range nll {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("non-finite nll %v", nll)
		}
	}
	// Same seed, same bytes; another seed, other bytes.
	dir2, dir3 := t.TempDir(), t.TempDir()
	WriteSynthetic(cfg, cfgBytes, dir2, SynthOptions{Seed: 3, ShardBytes: 10e6})
	WriteSynthetic(cfg, cfgBytes, dir3, SynthOptions{Seed: 4, ShardBytes: 10e6})
	a, _ := os.ReadFile(shards[0])
	b, _ := os.ReadFile(filepath.Join(dir2, filepath.Base(shards[0])))
	c, _ := os.ReadFile(filepath.Join(dir3, filepath.Base(shards[0])))
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Errorf("determinism: same seed equal %v, other seed equal %v", bytes.Equal(a, b), bytes.Equal(a, c))
	}
}
