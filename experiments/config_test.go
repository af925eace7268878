package experiments

import (
	"strings"
	"testing"

	"github.com/hyquant/hyquant/internal/yamlx"
)

func parseString(t *testing.T, src string) (*Config, error) {
	t.Helper()
	m, err := yamlx.Parse([]byte(src), "exp.yaml")
	if err != nil {
		return nil, err
	}
	return parse(m, "exp.yaml")
}

func TestConfigExpandsRuns(t *testing.T) {
	c, err := parseString(t, `
name: t
eval: {seq_len: 256, max_windows: 4}
calibration: {segments: 4, length: 128, seed: 3}
runs:
  - {name: seed, plan: seed}
  - name: inline
    plan:
      categories:
        mlp_up: {bits: 4, granularity: "group:64"}
sweep:
  methods: [rtn, {method: mambaquant, rotation: hadamard}]
  bits: [8, 4]
sensitivity:
  categories: [ssm_in_proj, lm_head]
  bits: [4]
`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range c.Runs {
		names = append(names, r.Name)
	}
	want := "seed inline rtn-w8 rtn-w4 mambaquant-hadamard-w8 mambaquant-hadamard-w4 only-ssm_in_proj-w4 only-lm_head-w4"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("runs %q\nwant %q", got, want)
	}
	if c.Eval.SeqLen != 256 || c.Eval.MaxWindows != 4 || c.Calibration.Segments != 4 || c.Calibration.Seed != 3 || c.Output != "results/t" {
		t.Errorf("config %+v", c)
	}
	r := c.Runs[5]
	s := r.Plan.Categories["mlp_down"]
	if s.Method != "mambaquant" || s.Bits != 4 || s.Granularity.GroupSize != 128 || s.Rotation != "hadamard" {
		t.Errorf("sweep spec %+v", s)
	}
	if _, ok := r.Plan.Categories["embedding"]; ok {
		t.Error("sweeps must keep the embedding")
	}
	if c.Runs[6].Kind != "sensitivity" || c.Runs[6].Category != "ssm_in_proj" || len(c.Runs[6].Plan.Categories) != 1 {
		t.Errorf("sensitivity run %+v", c.Runs[6])
	}
}

func TestConfigErrorsNameLineAndField(t *testing.T) {
	cases := []struct{ src, want string }{
		{"name: x\ncolour: red\n", "exp.yaml:2: colour: unknown field"},
		{"eval: {seq_len: 1}\n", "exp.yaml:1: eval.seq_len: must be at least 2"},
		{"eval: {seq_lenn: 8}\n", "eval.seq_lenn: unknown field"},
		{"calibration: {text: wikitext2-test}\n", "calibration.text: the WikiText-2 test split is the evaluation set"},
		{"runs:\n  - {name: a, plan: seed}\n  - {name: a, plan: seed}\n", `exp.yaml:3: runs[1]: run name "a" is used twice (first at line 2)`},
		{"runs:\n  - {name: baseline, plan: seed}\n", "reserved"},
		{"runs:\n  - {name: a, plan: nope}\n", `runs[0].plan: plan "nope": no such file`},
		{"runs:\n  - {name: a}\n", `missing required field "plan"`},
		{"runs:\n  - name: a\n    plan: {categories: {mlp_up: {bits: 12}}}\n", "exp.yaml:3: runs[0].plan.categories.mlp_up: bits 12 is outside 2..8"},
		{"sweep: {methods: [rtn], bits: [9]}\n", "exp.yaml:1: sweep.methods[0]: rtn-w9: bits 9 is outside 2..8"},
		{"sweep: {methods: [magic], bits: [4]}\n", `unknown method "magic"`},
		{"sensitivity: {categories: [ssm_inproj], bits: [4]}\n", `sensitivity.categories[0]: unknown category "ssm_inproj"`},
		{"runs: {name: a}\n", "expected a list"},
		{"sweep: {methods: [rtn], bits: [0]}\n", "exp.yaml:1: sweep.methods[0]: rtn-w0: bits 0 is out of range"},
		{"output: \"\"\n", `exp.yaml:1: output: is empty: give the results directory`},
		{"eval: {max_windows: -3}\n", "exp.yaml:1: eval.max_windows: must be 0 (all windows) or positive, got -3"},
		{"eval: {seq_len: 99999999999}\n", "eval.seq_len: must be at most 1048576, got 99999999999"},
		{"calibration: {segments: 0}\n", "exp.yaml:1: calibration.segments: must be at least 1, got 0"},
		{"calibration: {length: 1}\n", "exp.yaml:1: calibration.length: must be at least 2, got 1"},
		{"name: x\n---\nname: y\n", "exp.yaml:2: a second YAML document starts here"},
	}
	for _, c := range cases {
		_, err := parseString(t, c.src)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %q", c.src, err, c.want)
		}
	}
}
