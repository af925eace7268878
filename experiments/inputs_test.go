package experiments_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/experiments"
)

func writeFile(t *testing.T, path, src string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A relative plan path resolves against the experiment file, not the
// working directory; shipped names keep working; a missing file is named
// as resolved.
func TestPlanPathsResolveAgainstTheConfig(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "plans", "mine.yaml"), "name: mine\ncategories:\n  mlp_up: {bits: 4}\n")
	cfg := writeFile(t, filepath.Join(dir, "exp.yaml"), "runs:\n  - {name: a, plan: plans/mine.yaml}\n  - {name: b, plan: seed}\n")
	c, err := experiments.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.Runs[0].Plan.Name != "mine" || c.Runs[0].Plan.Categories["mlp_up"].Bits != 4 || c.Runs[1].Plan.Name != "seed" {
		t.Fatalf("plans %q %q", c.Runs[0].Plan.Name, c.Runs[1].Plan.Name)
	}
	bad := writeFile(t, filepath.Join(dir, "bad.yaml"), "runs:\n  - {name: a, plan: plans/other.yaml}\n")
	_, err = experiments.Load(bad)
	want := `bad.yaml:2: runs[0].plan: plan "plans/other.yaml": no such file ` + filepath.Join(dir, "plans", "other.yaml")
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// A missing model or text is refused before the output directory is
// created, and an existing one (results.json, experiment.yaml) is left
// exactly as it was.
func TestMissingInputsTouchNothing(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "results")
	for _, c := range []struct{ name, body, want string }{
		{"model", "model: " + filepath.Join(dir, "no-model") + "\n", "model: model \"" + filepath.Join(dir, "no-model") + "\": no such file or directory"},
		{"eval", "model: ../models/nemotron-h-mini\neval: {text: " + filepath.Join(dir, "no.txt") + "}\n", ": eval: text \"" + filepath.Join(dir, "no.txt") + "\" is neither"},
		{"calib", "model: ../models/nemotron-h-mini\ncalibration: {text: " + filepath.Join(dir, "no.txt") + "}\n", ": calibration: text \""},
	} {
		cfg := writeFile(t, filepath.Join(dir, c.name+".yaml"), c.body+"output: "+out+"\nruns:\n  - {name: a, plan: seed}\n")
		conf, err := experiments.Load(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = experiments.Execute(context.Background(), conf, experiments.Options{Quiet: true})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), cfg) {
			t.Errorf("%s: got %v\nwant %s", c.name, err, c.want)
		}
		if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s: output directory created: %v", c.name, err)
		}
	}
	// An existing output directory is not touched either.
	writeFile(t, filepath.Join(out, "results.json"), `{"experiment": "old"}`)
	writeFile(t, filepath.Join(out, "experiment.yaml"), "old: config\n")
	cfg := writeFile(t, filepath.Join(dir, "again.yaml"), "model: "+filepath.Join(dir, "no-model")+"\noutput: "+out+"\n")
	conf, _ := experiments.Load(cfg)
	if _, err := experiments.Execute(context.Background(), conf, experiments.Options{Quiet: true}); err == nil {
		t.Fatal("missing model accepted")
	}
	if b, _ := os.ReadFile(filepath.Join(out, "experiment.yaml")); string(b) != "old: config\n" {
		t.Fatalf("experiment.yaml overwritten: %q", b)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 2 {
		t.Fatalf("output directory changed: %d entries", len(ents))
	}
}
