package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Cancelled in the middle, WriteSynthetic leaves neither the output nor
// its temporary directory; a file at the output path is never replaced.
func TestWriteSyntheticInterruptedLeavesNothing(t *testing.T) {
	cfgBytes, err := os.ReadFile(miniConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg := mustConfig(t, miniConfig)
	root := t.TempDir()
	out := filepath.Join(root, "synth")
	ctx, cancel := context.WithCancel(context.Background())
	err = WriteSynthetic(cfg, cfgBytes, out, SynthOptions{ShardBytes: 5e6, Context: ctx, Progress: func(done, total int64) {
		if done > total/3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
	file := filepath.Join(root, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if err := WriteSynthetic(cfg, cfgBytes, file, SynthOptions{}); err == nil {
		t.Fatal("wrote over a file")
	}
	if b, _ := os.ReadFile(file); string(b) != "x" {
		t.Fatal("file replaced")
	}
}
