package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// linkedMini is a model directory whose files are symbolic links to the
// mini's, so a test that wrongly replaced it could not harm the originals.
func linkedMini(t *testing.T) string {
	t.Helper()
	src, err := filepath.Abs("../../models/nemotron-h-mini")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "mini")
	os.Mkdir(dir, 0o755)
	for _, f := range []string{"config.json", "tokenizer.json", "model.safetensors.index.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"} {
		if err := os.Symlink(filepath.Join(src, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func expectErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// quantize, export and synth never delete a file given as --out and never
// write into or over the model they read, --force or not.
func TestOutputsNeverClobberFilesOrTheSource(t *testing.T) {
	model := linkedMini(t)
	file := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(file, []byte("keep me"), 0o644)
	for _, force := range []string{"--force=false", "--force=true"} {
		_, err := run(t, "quantize", "--plan", "seed", "--out", file, force)
		expectErr(t, err, "--out "+file+" exists and is not a directory; hyquant never replaces a file with a checkpoint directory")
		_, err = run(t, "quantize", "--model", model, "--plan", "seed", "--out", model, force)
		expectErr(t, err, "--out "+model+" is the source model "+model+" itself; hyquant never writes over its input, even with --force")
		_, err = run(t, "quantize", "--model", model, "--plan", "seed", "--out", filepath.Join(model, "q"), force)
		expectErr(t, err, "is inside the source model "+model)
		_, err = run(t, "quantize", "--model", model, "--plan", "seed", "--out", filepath.Dir(model), force)
		expectErr(t, err, "contains the source model "+model)
		_, err = run(t, "export", "--model", model, "--out", filepath.Join(model, "mini.gguf"), force)
		expectErr(t, err, "--out "+filepath.Join(model, "mini.gguf")+" is inside the source model "+model)
		_, err = run(t, "synth", "--config", model, "--out", model)
		expectErr(t, err, "is the source model")
	}
	if b, _ := os.ReadFile(file); string(b) != "keep me" {
		t.Fatalf("--out file changed: %q", b)
	}
	ents, _ := os.ReadDir(model)
	if len(ents) != 6 {
		t.Fatalf("model directory now has %d entries", len(ents))
	}
}

// An interrupted write removes its temporary directory; temporary files a
// killed run left are named by the next run.
func TestInterruptedOutputsLeaveNothing(t *testing.T) {
	root := t.TempDir()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(root, "synth")
	err := runSynth(cancelled, &strings.Builder{}, &strings.Builder{}, "nemotron-h-mini", out, 0, 5)
	expectErr(t, err, "interrupted: nothing was written to "+out+" and the temporary files were removed")
	q := filepath.Join(root, "q")
	err = runQuantize(&strings.Builder{}, quantizeOptions{planRef: "seed", out: q, shardGB: 5, calibOptions: calibOptions{segments: 1, length: 8}, ctx: cancelled})
	expectErr(t, err, "interrupted: nothing was written to "+q)
	gguf := filepath.Join(root, "m.gguf")
	err = runExport(&strings.Builder{}, exportOptions{out: gguf, format: "gguf", asJSON: true, calibOptions: calibOptions{segments: 1, length: 8}, ctx: cancelled})
	expectErr(t, err, "interrupted: nothing was written to "+gguf)
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}

	// What a killed run leaves: named, inside an otherwise empty --out and beside it.
	os.MkdirAll(filepath.Join(out, ".model-00001-of-00001.safetensors.tmp-42"), 0o755)
	_, err = run(t, "synth", "--config", "nemotron-h-mini", "--out", out)
	expectErr(t, err, "output directory "+out+" holds only .model-00001-of-00001.safetensors.tmp-42, temporary files left by an interrupted run")
	os.RemoveAll(out)
	os.WriteFile(filepath.Join(root, ".synth.tmp-7"), make([]byte, 1000), 0o644)
	var notes strings.Builder
	err = runSynth(cancelled, &strings.Builder{}, &notes, "nemotron-h-mini", out, 0, 5)
	want := "note: " + filepath.Join(root, ".synth.tmp-7") + " (0.001 MB (0.001 MiB)) was left by an interrupted hyquant run writing " + out
	if !strings.Contains(notes.String(), want) {
		t.Errorf("notes %q\nwant %s", notes.String(), want)
	}
}

// The first SIGINT cancels the commands' context instead of killing the
// process, so writers can remove their temporary files.
func TestInterruptCancelsContext(t *testing.T) {
	ctx, stop := interruptible()
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("SIGINT did not cancel the context")
	}
}

// Numeric flags obey the rules of the matching config fields.
func TestFlagsValidatedLikeConfigFields(t *testing.T) {
	out := filepath.Join(t.TempDir(), "o")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--max-windows", "-1"}, "--max-windows: must be 0 (all windows) or positive, got -1"},
		{[]string{"eval", "--threads", "-2"}, "--threads: must be 0 (all cores) or positive, got -2"},
		{[]string{"eval", "--seq-len", "1"}, "--seq-len: must be at least 2, got 1"},
		{[]string{"quantize", "--plan", "seed", "--out", out, "--segments", "-1"}, "--segments: must be at least 1, got -1"},
		{[]string{"quantize", "--plan", "seed", "--out", out, "--length", "0"}, "--length: must be at least 2, got 0"},
		{[]string{"quantize", "--plan", "seed", "--out", out, "--shard-gb", "0"}, "--shard-gb: must be a positive number at most 1000, got 0"},
		{[]string{"export", "--out", out, "--segments", "0"}, "--segments: must be at least 1, got 0"},
		{[]string{"synth", "--config", "nemotron-h-mini", "--out", out, "--shard-gb", "-1"}, "--shard-gb: must be a positive number at most 1000, got -1"},
	} {
		_, err := run(t, c.args...)
		expectErr(t, err, c.want)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused command wrote its output")
	}
}
