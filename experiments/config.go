package experiments

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/internal/limits"
	"github.com/hyquant/hyquant/internal/yamlx"
	"github.com/hyquant/hyquant/plans"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
)

// Config is a validated experiment: one model, one evaluation protocol, one
// calibration set, and the runs to compare against the baseline.
type Config struct {
	File   string
	Name   string
	Model  string
	Output string // results directory

	Eval        EvalConfig
	Calibration eval.CalibrationConfig
	// LayerErrors measures every quantised projection's output error on
	// the calibration data (figure 3).
	LayerErrors bool

	Runs []Run
}

// EvalConfig is the perplexity protocol of an experiment.
type EvalConfig struct {
	Text       string
	SeqLen     int
	MaxWindows int
	// KL evaluates every run by comparison with the float model (KL
	// divergence, top-1 agreement) as well as by perplexity. Omitted from
	// the run hash when false, so records made before the option existed
	// keep their identity.
	KL bool `json:",omitempty"`
}

// Run is one quantised variant of the model.
type Run struct {
	Name     string
	Kind     string // "plan" or "sensitivity"
	Plan     *plan.Plan
	Category string // sensitivity runs: the category quantised
	// Imatrix is a llama.cpp importance-matrix file (llama-imatrix's GGUF
	// or legacy .dat) for the plan's tensors that ask for one, instead of
	// hyquant's own from calibration; a path relative to the config file.
	Imatrix string
}

// linearCategories are the projections sweeps quantise.
var linearCategories = []runtime.Category{
	runtime.SSMInProj, runtime.SSMOutProj, runtime.MLPUp, runtime.MLPDown,
	runtime.AttnQ, runtime.AttnK, runtime.AttnV, runtime.AttnO,
}

// Load reads and validates an experiment config.
func Load(path string) (*Config, error) {
	m, err := yamlx.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parse(m, path)
}

func parse(m *yamlx.Map, path string) (*Config, error) {
	c := &Config{File: path, Eval: EvalConfig{Text: "wikitext2-test", SeqLen: 1024}, Calibration: eval.DefaultCalibration}
	var err error
	if c.Name, err = m.String("name", strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))); err != nil {
		return nil, err
	}
	if c.Model, err = m.String("model", ""); err != nil {
		return nil, err
	}
	if c.Output, err = m.String("output", filepath.Join("results", c.Name)); err != nil {
		return nil, err
	}
	if strings.TrimSpace(c.Output) == "" {
		v, _ := m.Get("output")
		return nil, v.Errorf("is empty: give the results directory (default results/<name>)")
	}
	if c.LayerErrors, err = m.Bool("layer_errors", true); err != nil {
		return nil, err
	}
	if n, ok := m.Get("eval"); ok {
		if err := c.parseEval(n); err != nil {
			return nil, err
		}
	}
	if n, ok := m.Get("calibration"); ok {
		if err := c.parseCalibration(n); err != nil {
			return nil, err
		}
	}
	names := map[string]yamlx.Node{}
	add := func(r Run, where yamlx.Node) error {
		if r.Name == "baseline" {
			return where.Errorf("run name %q is reserved for the unquantised model", r.Name)
		}
		if prev, dup := names[r.Name]; dup {
			return where.Errorf("run name %q is used twice (first at line %d)", r.Name, prev.N.Line)
		}
		names[r.Name] = where
		c.Runs = append(c.Runs, r)
		return nil
	}
	if n, ok := m.Get("runs"); ok {
		items, err := n.Seq()
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			r, err := parseRun(it)
			if err != nil {
				return nil, err
			}
			if err := add(r, it); err != nil {
				return nil, err
			}
		}
	}
	if n, ok := m.Get("sweep"); ok {
		runs, err := parseSweep(n)
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			if err := add(r, n); err != nil {
				return nil, err
			}
		}
	}
	if n, ok := m.Get("sensitivity"); ok {
		runs, err := parseSensitivity(n)
		if err != nil {
			return nil, err
		}
		for _, r := range runs {
			if err := add(r, n); err != nil {
				return nil, err
			}
		}
	}
	if err := m.Done("name", "model", "output", "layer_errors", "eval", "calibration", "runs", "sweep", "sensitivity"); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) parseEval(n yamlx.Node) error {
	m, err := n.Map()
	if err != nil {
		return err
	}
	if c.Eval.Text, err = m.String("text", c.Eval.Text); err != nil {
		return err
	}
	if c.Eval.SeqLen, err = limitedInt(m, "seq_len", c.Eval.SeqLen, limits.SeqLen); err != nil {
		return err
	}
	if c.Eval.MaxWindows, err = limitedInt(m, "max_windows", 0, limits.MaxWindows); err != nil {
		return err
	}
	if c.Eval.KL, err = m.Bool("kl", false); err != nil {
		return err
	}
	return m.Done("text", "seq_len", "max_windows", "kl")
}

func (c *Config) parseCalibration(n yamlx.Node) error {
	m, err := n.Map()
	if err != nil {
		return err
	}
	cc := &c.Calibration
	if cc.Text, err = m.String("text", cc.Text); err != nil {
		return err
	}
	if cc.Text == "wikitext2-test" {
		v, _ := m.Get("text")
		return v.Errorf("the WikiText-2 test split is the evaluation set; calibrate on other text")
	}
	if cc.Segments, err = limitedInt(m, "segments", cc.Segments, limits.Segments); err != nil {
		return err
	}
	if cc.Length, err = limitedInt(m, "length", cc.Length, limits.Length); err != nil {
		return err
	}
	seed, err := m.Int("seed", int(cc.Seed))
	if err != nil {
		return err
	}
	cc.Seed = int64(seed)
	return m.Done("text", "segments", "length", "seed")
}

// parseRun reads `{name: x, plan: <shipped name | file | inline plan>}`.
func parseRun(n yamlx.Node) (Run, error) {
	m, err := n.Map()
	if err != nil {
		return Run{}, err
	}
	nameNode, err := m.Require("name")
	if err != nil {
		return Run{}, err
	}
	name, err := nameNode.Text()
	if err != nil {
		return Run{}, err
	}
	if err := checkRunName(nameNode, name); err != nil {
		return Run{}, err
	}
	pn, err := m.Require("plan")
	if err != nil {
		return Run{}, err
	}
	var p *plan.Plan
	if pn.IsScalar() {
		ref, _ := pn.Text()
		if p, err = plans.LoadFrom(filepath.Dir(m.File), ref); err != nil {
			return Run{}, pn.Errorf("%v", err)
		}
	} else {
		pm, err := pn.Map()
		if err != nil {
			return Run{}, err
		}
		if p, err = plan.ParsePlan(pm); err != nil {
			return Run{}, err
		}
		if p.Name == "" {
			p.Name = name
		}
	}
	run := Run{Name: name, Kind: "plan", Plan: p}
	if in, ok := m.Get("imatrix"); ok {
		if run.Imatrix, err = in.Text(); err != nil {
			return Run{}, err
		}
		if !filepath.IsAbs(run.Imatrix) {
			run.Imatrix = filepath.Join(filepath.Dir(m.File), run.Imatrix)
		}
		if _, err := os.Stat(run.Imatrix); err != nil {
			return Run{}, in.Errorf("imatrix: %v", err)
		}
	}
	return run, m.Done("name", "plan", "imatrix")
}

// limitedInt reads an optional integer field and checks it against the
// rule the matching command-line flag obeys too.
func limitedInt(m *yamlx.Map, key string, def int, rule limits.Int) (int, error) {
	v, err := m.Int(key, def)
	if err != nil {
		return 0, err
	}
	if err := rule.Check(v); err != nil {
		n, _ := m.Get(key)
		return 0, n.Errorf("%v", err)
	}
	return v, nil
}

func checkRunName(n yamlx.Node, name string) error {
	if name == "" || strings.ContainsAny(name, `/\ `) || strings.HasPrefix(name, ".") {
		return n.Errorf("run name %q must be a non-empty file name without slashes or spaces", name)
	}
	return nil
}

// parseSweep expands `{methods: [...], bits: [...], granularity: ...}` into
// one run per method and bit width, each quantising every linear projection
// (SSM in/out, MLP up/down, attention q/k/v/o) and keeping the rest.
// A method entry is a name or a mapping of spec fields (with `method`).
func parseSweep(n yamlx.Node) ([]Run, error) {
	m, err := n.Map()
	if err != nil {
		return nil, err
	}
	methods, bits, gran, err := generatorAxes(m, "methods")
	if err != nil {
		return nil, err
	}
	var runs []Run
	for _, meth := range methods {
		fields := map[string]string{}
		name := ""
		if meth.IsScalar() {
			name, _ = meth.Text()
			fields["method"] = name
		} else {
			mm, err := meth.Map()
			if err != nil {
				return nil, err
			}
			for _, k := range mm.Keys() {
				v, _ := mm.Get(k)
				s, err := v.Text()
				if err != nil {
					return nil, err
				}
				fields[k] = s
			}
			name = fields["method"]
			if name == "" {
				return nil, meth.Errorf("a method entry needs a `method` field")
			}
			if r := fields["rotation"]; r != "" {
				name += "-" + r
			}
			if r := fields["rounding"]; r != "" && r != "rtn" {
				name += "-" + r
			}
		}
		for _, b := range bits {
			f := map[string]string{"bits": fmt.Sprint(b), "granularity": gran}
			for k, v := range fields {
				f[k] = v
			}
			p, err := planFromFields(meth, fmt.Sprintf("%s-w%d", name, b), linearCategories, f)
			if err != nil {
				return nil, err
			}
			runs = append(runs, Run{Name: p.Name, Kind: "plan", Plan: p})
		}
	}
	return runs, m.Done("methods", "bits", "granularity")
}

// parseSensitivity expands `{categories: [...], bits: [...], method, granularity}`
// into one run per category and bit width that quantises only that category.
func parseSensitivity(n yamlx.Node) ([]Run, error) {
	m, err := n.Map()
	if err != nil {
		return nil, err
	}
	items, bits, gran, err := generatorAxes(m, "categories")
	if err != nil {
		return nil, err
	}
	method, err := m.String("method", "rtn")
	if err != nil {
		return nil, err
	}
	var runs []Run
	for _, it := range items {
		s, err := it.Text()
		if err != nil {
			return nil, err
		}
		cat, err := runtime.ParseCategory(s)
		if err != nil {
			return nil, it.Errorf("%v", err)
		}
		for _, b := range bits {
			p, err := planFromFields(it, fmt.Sprintf("only-%s-w%d", cat, b), []runtime.Category{cat},
				map[string]string{"method": method, "bits": fmt.Sprint(b), "granularity": gran})
			if err != nil {
				return nil, err
			}
			runs = append(runs, Run{Name: p.Name, Kind: "sensitivity", Plan: p, Category: string(cat)})
		}
	}
	return runs, m.Done("categories", "bits", "method", "granularity")
}

// generatorAxes reads what a sweep and a sensitivity block share: the
// list under listKey, the bit widths and the granularity (default group:128).
func generatorAxes(m *yamlx.Map, listKey string) (items []yamlx.Node, bits []int, gran string, err error) {
	ln, err := m.Require(listKey)
	if err != nil {
		return nil, nil, "", err
	}
	if items, err = ln.Seq(); err != nil {
		return nil, nil, "", err
	}
	if bits, err = intList(m, "bits"); err != nil {
		return nil, nil, "", err
	}
	gran, err = m.String("granularity", "group:128")
	return items, bits, gran, err
}

func intList(m *yamlx.Map, key string) ([]int, error) {
	n, err := m.Require(key)
	if err != nil {
		return nil, err
	}
	items, err := n.Seq()
	if err != nil {
		return nil, err
	}
	var out []int
	for _, it := range items {
		v, err := it.Int()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, n.Errorf("is empty")
	}
	return out, nil
}

// planFromFields builds a plan giving the same spec (from string fields) to
// several categories, through the same parser as plan files, so errors
// read the same; where locates them in the experiment file.
func planFromFields(where yamlx.Node, name string, cats []runtime.Category, fields map[string]string) (*plan.Plan, error) {
	var b strings.Builder
	b.WriteString("{")
	first := true
	for k, v := range fields {
		if !first {
			b.WriteString(", ")
		}
		first = false
		fmt.Fprintf(&b, "%s: %q", k, v)
	}
	b.WriteString("}")
	var doc strings.Builder
	fmt.Fprintf(&doc, "name: %q\ncategories:\n", name)
	for _, c := range cats {
		fmt.Fprintf(&doc, "  %s: %s\n", c, b.String())
	}
	m, err := yamlx.Parse([]byte(doc.String()), where.File)
	if err != nil {
		return nil, err
	}
	p, err := plan.ParsePlan(m)
	if err != nil {
		// Point at the experiment line that generated the spec.
		return nil, where.Errorf("%s: %v", name, stripLocation(err))
	}
	p.Source = where.File
	return p, nil
}

func stripLocation(err error) string {
	if e, ok := err.(*yamlx.Error); ok {
		return e.Msg
	}
	return err.Error()
}
