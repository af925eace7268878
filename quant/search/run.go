package search

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/internal/units"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// Options is one search.
type Options struct {
	Name      string // the plan's name
	Formats   []Format
	Rounding  string  // RoundGPTQ or RoundRTN
	Damp      float64 // GPTQ's dampening (0: GPTQ's default)
	Objective Objective
	// Calibration: the statistics GPTQ and the importance matrices use,
	// sampled as experiments sample them (Segments 0: none, proxy only).
	Calibration eval.CalibrationConfig
	// Windows of WindowLength tokens the sensitivities are measured on,
	// sampled from the first 85% of the calibration text; HeldOut windows,
	// disjoint from them, from the last 15%.
	Windows, HeldOut, WindowLength int
	Refine                         RefineOptions
	Unit                           int64 // knapsack unit in bytes (0: the bytes above the smallest assignment / 200,000)
	Work                           string
	Discard                        bool // discard the records of a work directory of another identity
	Context                        context.Context
	// Stage is told when each stage starts; Progress reports within it.
	Stage    func(name string, total int)
	Progress func(done int, detail string)
}

// Result is a finished search.
type Result struct {
	Budget    Budget
	Space     *Space
	Pick      []int
	Bytes     int64
	Plan      *plan.Plan
	Resolved  *plan.Resolved
	Predicted float64 // Σ of the chosen choices' sensitivities: the additive model
	// Measured on the sensitivity windows (the additivity check) and on the
	// held-out windows, for the knapsack's assignment and the final one.
	KnapsackSensitivity, KnapsackHeldOut float64
	FinalSensitivity, FinalHeldOut       float64
	KnapsackPredicted                    float64
	Refinement                           Refinement
	Tokens                               struct{ Sensitivity, HeldOut int }
	Seconds                              float64
	Options                              Options
	Model                                string
}

// Model is the model a search runs on.
type Model struct {
	Config   *runtime.Config
	Ref      string // as the user named it
	Describe string
	Digest   string                         // of the model's files (runtime.ModelFiles.Digest): part of the records' identity
	Stored   func(string) safetensors.DType // each tensor's dtype in the checkpoint
	Weights  runtime.WeightSource           // the float weights, served as float32
	// Model and Tokenizer run the model; both nil is enough for the proxy
	// objective without calibration (an 8B checkpoint is then only read,
	// one tensor at a time).
	Model     *runtime.Model
	Tokenizer eval.Tokenizer
}

// Loaded is the Model of a checkpoint opened with float32 weights.
func Loaded(l *runtime.Loaded, stored func(string) safetensors.DType) (Model, error) {
	d, err := l.Files.Digest()
	if err != nil {
		return Model{}, err
	}
	return Model{Config: l.Model.Config, Ref: l.Files.Ref, Describe: l.Files.Describe(), Digest: d, Stored: stored, Weights: l.Weights, Model: l.Model, Tokenizer: l.Tokenizer}, nil
}

// Run searches a model for the assignment with the least objective under a
// budget: sensitivities, the knapsack over them, then the refinement.
// planBytes gives a plan's exact bytes (for budgets named by a plan).
func Run(m Model, budgetSpec string, planBytes func(string) (int64, error), o Options) (*Result, error) {
	start := time.Now()
	if o.Context == nil {
		o.Context = context.Background()
	}
	stage := func(name string, total int) {
		if o.Stage != nil {
			o.Stage(name, total)
		}
	}
	progress := func(done int, detail string) {
		if o.Progress != nil {
			o.Progress(done, detail)
		}
	}
	inv := runtime.BuildInventory(m.Config)
	if m.Model == nil && (o.Objective != Proxy || o.Calibration.Segments > 0) {
		return nil, fmt.Errorf("the %s objective with %d calibration segments runs the model, and none was loaded", o.Objective, o.Calibration.Segments)
	}
	space, err := NewSpace(inv, m.Stored, o.Formats, o.Rounding, o.Damp)
	if err != nil {
		return nil, err
	}
	budget, err := ParseBudget(budgetSpec, BudgetBasis{StoredBytes: space.Stored, Params: inv.TotalParams(), PlanBytes: planBytes})
	if err != nil {
		return nil, err
	}
	if least := space.Smallest(); budget.Bytes < least {
		return nil, fmt.Errorf("budget %s (%s bytes) is below the smallest assignment of the formats %s: %s bytes", budget.Asked, units.Commas(budget.Bytes), formatNames(o.Formats), units.Commas(least))
	}
	id, err := identity(m, o)
	if err != nil {
		return nil, err
	}
	records, err := OpenRecords(o.Work, id, o.Discard)
	if err != nil {
		return nil, err
	}
	su := Setup{Space: space, Model: m.Model, Weights: m.Weights, Objective: o.Objective, Records: records, Context: o.Context}
	if o.Calibration.Segments > 0 {
		if su.Calibration, err = eval.CalibrationSegments(m.Tokenizer, o.Calibration); err != nil {
			return nil, err
		}
		stage("calibrate", len(su.Calibration))
		su.Progress = func(done, total int) { progress(done, "segments") }
	}
	if o.Objective != Proxy {
		if su.Sensitivity, su.HeldOut, err = windows(m.Tokenizer, o); err != nil {
			return nil, err
		}
	}
	s, err := NewSearcher(su)
	if err != nil {
		return nil, err
	}
	stage("sensitivity", space.Choices())
	sens, err := s.Sensitivities(func(done, total int, detail string) { progress(done, detail) })
	if err != nil {
		return nil, err
	}
	unit := o.Unit
	if unit <= 0 {
		unit = max(1, (budget.Bytes-space.Smallest())/200_000)
	}
	items := space.Items(sens)
	pick, err := Knapsack(items, budget.Bytes-space.Fixed, unit)
	if err != nil {
		return nil, err
	}
	r := &Result{Budget: budget, Space: space, Options: o, Model: m.Describe, KnapsackPredicted: totalCost(items, pick)}
	if o.Objective != Proxy {
		r.Tokens.Sensitivity, r.Tokens.HeldOut = s.sens.Tokens(), s.held.Tokens()
		if r.KnapsackSensitivity, err = s.measure(pick); err != nil {
			return nil, err
		}
		stage("refine", o.Refine.Generations)
		ro := o.Refine
		ro.Progress = func(g, total int, best float64) { progress(g, fmt.Sprintf("best %.5g", best)) }
		if r.Refinement, err = s.Refine(pick, budget.Bytes, ro); err != nil {
			return nil, err
		}
		pick = r.Refinement.Pick
		r.KnapsackHeldOut, r.FinalHeldOut = r.Refinement.Start, r.Refinement.Value
		if r.FinalSensitivity, err = s.measure(pick); err != nil {
			return nil, err
		}
	}
	r.Pick, r.Bytes, r.Predicted = pick, space.Bytes(pick), totalCost(items, pick)
	if r.Bytes > budget.Bytes {
		return nil, fmt.Errorf("internal error: the search chose %d bytes over a budget of %d", r.Bytes, budget.Bytes)
	}
	r.Plan = space.Plan(pick, o.Name, fmt.Sprintf("searched by hyquant search: least %s under %s (%s bytes)", o.Objective, budget.Asked, units.Commas(budget.Bytes)))
	if r.Resolved, err = space.CheckPlan(r.Plan, pick); err != nil {
		return nil, err
	}
	r.Seconds = time.Since(start).Seconds()
	return r, nil
}

// measure is an assignment's objective on the sensitivity windows.
func (s *Searcher) measure(pick []int) (float64, error) {
	m, from, err := s.whole(pick)
	if err != nil {
		return 0, err
	}
	v, err := s.sens.Score(m, from)
	return v - s.sensBase, err
}

// identity is what the search's records depend on.
func identity(m Model, o Options) (Identity, error) {
	text := o.Calibration.Text
	if text == "" {
		text = eval.DefaultCalibration.Text
	}
	t, err := datasets.Load(text)
	if err != nil {
		return Identity{}, err
	}
	names := make([]string, len(o.Formats))
	for i, f := range o.Formats {
		names[i] = f.Name
	}
	c := o.Calibration
	return Identity{
		Model:       m.Describe + " " + m.Digest,
		Formats:     names,
		Rounding:    o.Rounding,
		Damp:        o.Damp,
		Objective:   string(o.Objective),
		Calibration: fmt.Sprintf("%s (sha256 %s) %d×%d seed %d", text, digest(t.Body), c.Segments, c.Length, c.Seed),
		Windows:     fmt.Sprintf("sensitivity %d×%d, held-out %d×%d", o.Windows, o.WindowLength, o.HeldOut, o.WindowLength),
	}, nil
}

// windows samples the sensitivity windows from the first 85% of the
// calibration text and takes held-out windows, evenly spaced and not
// overlapping, from the rest.
func windows(tok eval.Tokenizer, o Options) (sens, held [][]int, err error) {
	text := o.Calibration.Text
	if text == "" {
		text = eval.DefaultCalibration.Text
	}
	t, err := datasets.Load(text)
	if err != nil {
		return nil, nil, err
	}
	if t.EvalOnly {
		return nil, nil, fmt.Errorf("calibration text %q is the evaluation set; a search never measures on it", text)
	}
	ids := tok.Encode(t.Body)
	cut := len(ids) * 85 / 100
	n := o.WindowLength
	if sens, err = eval.SampleSegments(ids[:cut], o.Windows, n, o.Calibration.Seed+1); err != nil {
		return nil, nil, fmt.Errorf("sensitivity windows: %w", err)
	}
	rest := ids[cut:]
	if o.HeldOut*n > len(rest) {
		return nil, nil, fmt.Errorf("held-out windows: the last 15%% of %s has %d tokens, fewer than %d windows of %d", text, len(rest), o.HeldOut, n)
	}
	stride := len(rest) / o.HeldOut
	for i := 0; i < o.HeldOut; i++ {
		held = append(held, rest[i*stride:i*stride+n])
	}
	return sens, held, nil
}

// WorkName names a search's default work directory: the model, the
// objective and a digest of everything the records depend on, so searches
// with other settings never share records and the same settings resume.
func WorkName(m Model, o Options) (string, error) {
	id, err := identity(m, o)
	if err != nil {
		return "", err
	}
	data, _ := json.Marshal(id)
	base := strings.NewReplacer("/", "-", "\\", "-", " ", "-", ":", "-").Replace(filepath.Base(m.Ref))
	if base == "" || base == "." {
		base = "model"
	}
	return fmt.Sprintf("%s-%s-%s", base, o.Objective, digest(string(data))), nil
}
