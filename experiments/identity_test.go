package experiments_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/experiments"
)

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in   string
		want experiments.Shard
		err  string
	}{
		{"1/3", experiments.Shard{I: 1, N: 3}, ""},
		{" 3/3 ", experiments.Shard{I: 3, N: 3}, ""},
		{"1/1", experiments.Shard{I: 1, N: 1}, ""},
		{"0/3", experiments.Shard{}, "i = 0, want between 1 and 3 (shards are numbered from 1; a 0-based index such as Kubernetes' JOB_COMPLETION_INDEX needs +1)"},
		{"4/3", experiments.Shard{}, "i = 4, want between 1 and 3"},
		{"1/0", experiments.Shard{}, "n = 0, want between 1"},
		{"-1/3", experiments.Shard{}, "i = -1"},
		{"2", experiments.Shard{}, "want i/n, e.g. 1/3"},
		{"a/b", experiments.Shard{}, "want i/n"},
		{"1/3/5", experiments.Shard{}, "want i/n"},
		{"", experiments.Shard{}, "want i/n"},
	} {
		got, err := experiments.ParseShard(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("ParseShard(%q) = %v, %v; want %v", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "--shard")):
			t.Errorf("ParseShard(%q) error %v; want one saying %q", c.in, err, c.err)
		}
	}
	// The rule: position p (0 = baseline) belongs to shard p mod n + 1;
	// the shards partition the runs.
	for n := 1; n <= 4; n++ {
		for p := 0; p < 11; p++ {
			owners := 0
			for i := 1; i <= n; i++ {
				if (experiments.Shard{I: i, N: n}).Has(p) {
					owners++
					if p%n != i-1 {
						t.Errorf("shard %d/%d has position %d", i, n, p)
					}
				}
			}
			if owners != 1 {
				t.Errorf("position %d of %d shards is in %d of them", p, n, owners)
			}
		}
	}
}

// rtnConfig is a tiny experiment of RTN runs only (seconds on 2 cores),
// evaluated on text, a file, with seq_len.
func rtnConfig(t *testing.T, dir, out, text string, seqLen int, extra string) *experiments.Config {
	t.Helper()
	src := "name: rtn\nmodel: " + miniPath(t) + "\noutput: " + out + "\n" +
		"eval: {text: " + text + ", seq_len: " + itoa(seqLen) + ", max_windows: 1}\n" +
		"calibration: {segments: 1, length: 32, seed: 1}\nlayer_errors: false\n" +
		"sweep: {methods: [rtn], bits: [4]}\n" + extra
	path := writeFile(t, filepath.Join(dir, "rtn.yaml"), src)
	c, err := experiments.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func miniPath(t *testing.T) string {
	p, err := filepath.Abs("../models/nemotron-h-mini")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func heldout(t *testing.T) string {
	txt, err := datasets.Load(datasets.PublicDomainHeldout)
	if err != nil {
		t.Fatal(err)
	}
	return txt.Body
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// A run whose identity differs from the directory's (another seq_len, or
// the same text file with other content) is refused naming the fields,
// and leaves the directory as it was; --force replaces every result, so
// no record of the old identity remains or is shown.
func TestIdentityRefusedThenForceReplaces(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the mini model")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "results")
	text := writeFile(t, filepath.Join(dir, "eval.txt"), heldout(t)[:20000])
	first, err := experiments.Execute(context.Background(), rtnConfig(t, dir, out, text, 64, ""), experiments.Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if first.Identity == nil || first.Identity.SeqLen != 64 || first.Identity.EvalTextDigest == "" || first.Identity.ModelDigest == "" || first.Identity.Protocol != experiments.ProtocolVersion {
		t.Fatalf("identity %+v", first.Identity)
	}
	before, _ := os.ReadFile(filepath.Join(out, experiments.ResultsFile))

	_, err = experiments.Execute(context.Background(), rtnConfig(t, dir, out, text, 32, ""), experiments.Options{Quiet: true})
	if err == nil || !strings.Contains(err.Error(), "another experiment identity") || !strings.Contains(err.Error(), "seq_len: 64 in the directory, 32 here") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("another seq_len: %v", err)
	}
	// The same file name with other content is another identity too.
	writeFile(t, text, heldout(t)[1000:21000])
	_, err = experiments.Execute(context.Background(), rtnConfig(t, dir, out, text, 64, ""), experiments.Options{Quiet: true})
	if err == nil || !strings.Contains(err.Error(), "eval_text_digest: ") || strings.Contains(err.Error(), "seq_len") {
		t.Fatalf("changed text: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(out, experiments.ResultsFile)); string(after) != string(before) {
		t.Fatal("a refused run changed results.json")
	}

	// --force: every result replaced, none of the old identity left.
	res, err := experiments.Execute(context.Background(), rtnConfig(t, dir, out, text, 32, ""), experiments.Options{Quiet: true, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Identity.SeqLen != 32 || len(res.Runs) != 2 || res.Runs[0].PPL == first.Runs[0].PPL {
		t.Fatalf("after --force: identity %+v, runs %v", res.Identity, runNames(res))
	}
	digest := res.Identity.Digest()
	ents, _ := os.ReadDir(filepath.Join(out, experiments.RunsDir))
	for _, e := range ents {
		var rec experiments.Record
		b, _ := os.ReadFile(filepath.Join(out, experiments.RunsDir, e.Name()))
		if err := json.Unmarshal(b, &rec); err != nil || rec.Identity != digest {
			t.Errorf("%s after --force: identity %q (%v), want %q", e.Name(), rec.Identity, err, digest)
		}
	}
	if len(ents) != 2 {
		t.Errorf("%d records after --force, want 2", len(ents))
	}
}

// A record of another identity planted in runs/ is never assembled (no
// delta against this baseline): the run counts as pending and is computed.
func TestForeignRecordNeverAssembled(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the mini model")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "results")
	c := rtnConfig(t, dir, out, "wikitext2-test", 32, "")
	res, err := experiments.Execute(context.Background(), c, experiments.Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	want := res.Runs[1]
	p := filepath.Join(out, experiments.RunsDir, "rtn-w4.json")
	b, _ := os.ReadFile(p)
	var rec experiments.Record
	json.Unmarshal(b, &rec)
	rec.Identity, rec.Run.PPL = "0123456789abcdef", 1
	b, _ = json.Marshal(rec)
	writeFile(t, p, string(b))
	got, err := experiments.Assemble(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Runs) != 1 || len(got.Pending) != 1 || got.Pending[0] != "rtn-w4" {
		t.Fatalf("assembled %v, pending %v", runNames(got), got.Pending)
	}
	res, err = experiments.Execute(context.Background(), c, experiments.Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Runs) != 2 || res.Runs[1].PPL != want.PPL || res.Runs[1].DeltaPPL != want.DeltaPPL {
		t.Fatalf("recomputed %+v, want ppl %v", res.Runs, want.PPL)
	}

	// A results.json written before records existed is kept: its runs
	// become records and are not recomputed.
	for _, f := range []string{experiments.ManifestFile, experiments.RunsDir} {
		os.RemoveAll(filepath.Join(out, f))
	}
	var log strings.Builder
	again, err := experiments.Execute(context.Background(), c, experiments.Options{Quiet: true, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "2 run(s) of "+filepath.Join(out, experiments.ResultsFile)+" (written before run records) kept") || strings.Count(log.String(), "done before") != 2 {
		t.Fatalf("legacy results not kept:\n%s", log.String())
	}
	if again.Runs[1].WallSeconds != res.Runs[1].WallSeconds {
		t.Errorf("a legacy run was recomputed")
	}
}
