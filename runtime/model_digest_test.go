package runtime

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDigestIsTheModelsFiles: the embedded mini and a copy of its
// directory on disk (with a README and golden files beside it, as in
// models/) have one digest; changing a weight file's last MiB changes it.
func TestDigestIsTheModelsFiles(t *testing.T) {
	emb, err := ResolveModel("")
	if err != nil {
		t.Fatal(err)
	}
	want, err := emb.Digest()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := "../models/nemotron-h-mini"
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	disk, err := ResolveModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := disk.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("on disk %s, embedded %s", got, want)
	}
	shard := filepath.Join(dir, "model-00001-of-00003.safetensors")
	data, _ := os.ReadFile(shard)
	data[len(data)-1] ^= 1
	os.WriteFile(shard, data, 0o644)
	if changed, _ := disk.Digest(); changed == want {
		t.Error("a changed weight file kept the digest")
	}
}
