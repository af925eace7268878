package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Shards run one after another from the CLI: each computes its share, the
// report names what is pending, and after the last shard it merges all.
func TestRunShardsThenReport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the mini model")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "results")
	cfg := filepath.Join(dir, "tiny.yaml")
	os.WriteFile(cfg, []byte("model: nemotron-h-mini\noutput: "+out+"\neval: {seq_len: 32, max_windows: 1}\n"+
		"calibration: {segments: 1, length: 32}\nlayer_errors: false\nsweep: {methods: [rtn], bits: [8, 4, 3]}\n"), 0o644)

	for _, c := range []struct{ args, want string }{
		{"--shard 0/2", `--shard "0/2": i = 0, want between 1 and 2`},
		{"--shard 2", `--shard "2": want i/n`},
		{"--shard 1/2 --force", "--force with --shard"},
		{"--claim-timeout 10ms", "--claim-timeout 10ms: want at least 1s"},
	} {
		_, err := run(t, append([]string{"run", cfg, "--quiet"}, strings.Fields(c.args)...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("run %s: %v, want %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused run created the output directory")
	}

	text, err := run(t, "run", cfg, "--quiet", "--shard", "2/2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Shard 2/2: 2 of the 4 runs") || !strings.Contains(text, "Shard 2/2 done; 2 run(s) of other shards pending. When every shard is done: hyquant report "+out) {
		t.Fatalf("shard 2/2:\n%s", text)
	}
	text, err = run(t, "report", out)
	if err != nil || !strings.Contains(text, "2 run(s) not recorded yet (shards still at work, or interrupted): baseline, rtn-w4") {
		t.Fatalf("report of a partial sweep: %v\n%s", err, text)
	}
	if _, err := run(t, "run", cfg, "--quiet", "--shard", "1/2"); err != nil {
		t.Fatal(err)
	}
	text, err = run(t, "report", out)
	if err != nil || strings.Contains(text, "not recorded yet") || !strings.Contains(text, "Merged 4 run record(s) into "+filepath.Join(out, "results.json")) {
		t.Fatalf("report after every shard: %v\n%s", err, text)
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	if !strings.Contains(string(md), "rtn-w3") {
		t.Errorf("report.md lacks a run of shard 2")
	}
}
