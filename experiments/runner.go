package experiments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/internal/atomicfile"
	"github.com/hyquant/hyquant/internal/progress"
	"github.com/hyquant/hyquant/internal/sysinfo"
	"github.com/hyquant/hyquant/models"
	"github.com/hyquant/hyquant/plans"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/calib"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/quant/rotation"
	"github.com/hyquant/hyquant/runtime"
)

// Options controls Execute.
type Options struct {
	// Force recomputes runs that already have a record; and where the
	// directory holds results of another identity, replaces all of them.
	// Not with Shard: a reset is one process's decision.
	Force bool
	Quiet bool      // no progress bars
	Log   io.Writer // one line per stage and per run
	// Shard is this process's share of the runs (--shard i/n); the zero
	// Shard is every run, with the output directory to itself.
	Shard Shard
	// StaleAfter is how old another process's claim heartbeat must be
	// before its run is taken over (0: DefaultStaleAfter); heartbeats are
	// refreshed every StaleAfter/10.
	StaleAfter time.Duration
	// Device, when set, computes the runs' calibrated passes and
	// evaluations on an accelerator (cmd/hyquant: a CUDA GPU in fp32).
	// Its Name is part of each run's hash, so records of the CPU and of a
	// device are never mixed.
	Device Device
}

// Device runs an experiment's heavy work on an accelerator.
type Device interface {
	// Name identifies the device and its arithmetic ("cuda fp32").
	Name() string
	Perplexity(ctx context.Context, m *runtime.Model, ids []int, seqLen, maxWindows int, progress eval.Progress) (eval.Result, error)
	Compare(ctx context.Context, m, base *runtime.Model, ids []int, seqLen, maxWindows int, progress eval.Progress) (eval.KLResult, error)
	// Calibration runs calib's calibrated pass there.
	Calibration() calib.NewRunner
}

// ResultsFile is the name of the results inside the output directory.
const ResultsFile = "results.json"

// RunLogEnv names a file to which every process appends a line when it
// starts computing a run and when it commits the run's record ("start
// <run> <owner>", "done <run> <owner>"): the concurrency tests' evidence
// that each run is computed once.
const RunLogEnv = "HYQUANT_RUN_LOG"

// Execute runs the baseline and every run of an experiment (or of its
// Shard), each finished run written atomically to its own record
// runs/<name>.json and results.json assembled from the records after each.
// Runs with a record of this identity and hash are skipped (unless Force),
// so an interrupted experiment resumes where it stopped; cancelling ctx
// stops within one evaluation window and loses only the run in progress.
//
// Without a Shard the process holds the output directory exclusively.
// With one, any number of processes with the same config (and any shards)
// share it: each run is claimed before it is computed (claims.go), so each
// is computed once; a process returns when every run of its share has a
// record, waiting for runs of its share that others hold.
func Execute(ctx context.Context, c *Config, o Options) (*Results, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = DefaultStaleAfter
	}
	if o.Force && o.Shard.Sharded() {
		return nil, fmt.Errorf("--force with --shard: replacing results is one process's decision; run `hyquant run --force %s` once without --shard (or remove %s), then start the shards", c.File, c.Output)
	}
	in, err := openInputs(c, o.Log)
	if err != nil {
		return nil, err
	}
	l, ids := in.l, in.ids
	defer l.Close()
	id, err := identityOf(c, in)
	if err != nil {
		return nil, err
	}
	inv := runtime.BuildInventory(l.Files.Config)
	e := &executor{c: c, o: o, ctx: ctx, l: l, ids: ids, inv: inv}
	items, err := e.items()
	if err != nil {
		return nil, err
	}
	// Every input is readable: only now is the output directory touched,
	// and first locked, so that no other process replaces what this one
	// writes.
	ws, err := openWorkspace(c, o)
	if err != nil {
		return nil, err
	}
	defer ws.close()
	header := &Results{Experiment: c.Name, ConfigFile: c.File, Model: l.Files.Ref, ModelInfo: l.Files.Describe(), Params: inv.TotalParams(),
		Eval:    EvalInfo{Text: in.text.Name, SeqLen: c.Eval.SeqLen, MaxWindows: c.Eval.MaxWindows, Windows: len(in.windows), Tokens: len(in.windows) * c.Eval.SeqLen, KL: c.Eval.KL},
		Calib:   CalibrationInfo{Text: c.Calibration.Text, Segments: c.Calibration.Segments, Length: c.Calibration.Length, Seed: c.Calibration.Seed},
		Machine: MachineInfo{CPU: sysinfo.CPUModel(), Threads: goruntime.GOMAXPROCS(0), GoVer: goruntime.Version()},
	}
	if header.WeightStats, err = weightStats(l.Weights, inv); err != nil {
		return nil, err
	}
	if header.Footprints8B, err = footprints8B(c); err != nil {
		return nil, err
	}
	m := &Manifest{Format: recordFormat, Identity: id, IdentityDigest: id.Digest(), Results: *header}
	for _, it := range items {
		m.Runs = append(m.Runs, ManifestRun{Name: it.rr.Name, Kind: it.rr.Kind, Hash: it.rr.Hash})
	}
	if err := ws.setup(m, items); err != nil {
		return nil, err
	}
	if n := orphanRecords(c.Output, m); len(n) > 0 {
		fmt.Fprintf(o.Log, "%d record(s) of runs no longer in %s left out of %s: %s\n", len(n), c.File, ResultsFile, strings.Join(n, ", "))
	}

	cs := &claims{dir: filepath.Join(c.Output, ClaimsDir), owner: newOwner(o.Shard), stale: o.StaleAfter, beat: o.StaleAfter / 10, alone: !o.Shard.Sharded()}
	if o.Shard.Sharded() {
		n := 0
		for p := range items {
			if o.Shard.Has(p) {
				n++
			}
		}
		fmt.Fprintf(o.Log, "Shard %s: %d of the %d runs (baseline included) as %s\n", o.Shard, n, len(items), cs.owner)
	}
	var share []*item
	for p, it := range items {
		if o.Shard.Has(p) {
			share = append(share, it)
		}
	}
	waited := false
	for len(share) > 0 {
		var held []*item
		for _, it := range share {
			done, err := e.runClaimed(it, cs, m, len(items)-1)
			if err != nil {
				return nil, err
			}
			if !done {
				held = append(held, it)
				continue
			}
			if _, err := ws.assemble(m); err != nil {
				return nil, err
			}
		}
		share = held
		if len(share) == 0 {
			break
		}
		if !waited {
			fmt.Fprintf(o.Log, "waiting for %d run(s) of this share that other processes hold\n", len(share))
			waited = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(max(cs.beat, 100*time.Millisecond)):
		}
	}
	res, err := ws.assemble(m)
	if err != nil {
		return nil, err
	}
	if len(res.Pending) > 0 {
		fmt.Fprintf(o.Log, "%d run(s) of other shards not recorded yet: %s\n", len(res.Pending), strings.Join(res.Pending, ", "))
	}
	return res, nil
}

// item is one run of the experiment (position 0: the baseline) with its
// resolved record skeleton and hash.
type item struct {
	pos  int
	run  Run // zero for the baseline
	plan *plan.Plan
	rr   RunResult
}

// items are the baseline and the config's runs, each with its hash.
func (e *executor) items() ([]*item, error) {
	base := &item{plan: &plan.Plan{Name: "baseline", Source: "baseline"},
		rr: RunResult{Name: "baseline", Kind: "baseline", Config: RunConfig{Plan: "baseline", Categories: map[string]string{}}}}
	base.rr.Hash = e.hash(base.rr.Config, nil)
	out := []*item{base}
	for i, run := range e.c.Runs {
		rr := RunResult{Name: run.Name, Kind: run.Kind, Config: runConfig(run)}
		rr.Hash = e.hash(rr.Config, run.Plan)
		if run.Imatrix != "" {
			d, err := fileDigest(run.Imatrix)
			if err != nil {
				return nil, fmt.Errorf("run %s: %w", run.Name, err)
			}
			rr.Config.Imatrix = filepath.Base(run.Imatrix)
			rr.Hash = rehash(rr.Hash, "imatrix "+d)
		}
		out = append(out, &item{pos: i + 1, run: run, plan: run.Plan, rr: rr})
	}
	return out, nil
}

// runClaimed computes one run unless it has a record: it claims the run
// first, and reports done false when another live process holds the claim.
func (e *executor) runClaimed(it *item, cs *claims, m *Manifest, nruns int) (done bool, err error) {
	label := it.rr.Name
	if it.pos > 0 {
		label = fmt.Sprintf("[%d/%d] %s", it.pos, nruns, it.rr.Name)
	}
	mr := m.Runs[it.pos]
	skip := func() (bool, error) {
		if e.o.Force {
			return false, nil
		}
		r, err := validRecord(e.c.Output, mr, m.IdentityDigest)
		if err != nil || r == nil {
			return false, err
		}
		by := ""
		if r.ComputedBy.ID != cs.owner.ID {
			by = " by " + r.ComputedBy.String()
		}
		fmt.Fprintf(e.o.Log, "%s: done before%s (ppl %.4f), skipped\n", label, by, r.Run.PPL)
		return true, nil
	}
	if ok, err := skip(); ok || err != nil {
		return ok, err
	}
	cl, holder, err := cs.take(it.rr.Name)
	if err != nil {
		return false, err
	}
	if cl == nil {
		if e.told == nil {
			e.told = map[string]bool{}
		}
		if !e.told[it.rr.Name] {
			fmt.Fprintf(e.o.Log, "%s: claimed by %s, left to it\n", label, holder)
			e.told[it.rr.Name] = true
		}
		return false, nil
	}
	defer cl.release()
	// Another process may have finished it between the look and the claim.
	if ok, err := skip(); ok || err != nil {
		return ok, err
	}
	runCtx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	go func() {
		select {
		case <-cl.lost:
			cancel()
		case <-runCtx.Done():
		}
	}()
	if it.pos > 0 {
		fmt.Fprintln(e.o.Log, label)
	}
	runLog("start", it.rr.Name, cs.owner.ID)
	rr, err := e.compute(runCtx, it)
	if cl.isLost() {
		fmt.Fprintf(e.o.Log, "%s: its claim was taken over by another process (this one's heartbeat stalled past %v); abandoned\n", label, cs.stale)
		return false, nil
	}
	if err != nil {
		if errors.Is(err, context.Canceled) && e.ctx.Err() != nil {
			return false, e.ctx.Err()
		}
		return false, fmt.Errorf("run %s: %w", it.rr.Name, err)
	}
	rec := &Record{Format: recordFormat, Identity: m.IdentityDigest, ComputedBy: cs.owner, Finished: time.Now().UTC(), Run: *rr}
	written, err := commitRecord(e.c.Output, rec, e.o.Force)
	if err != nil {
		return false, err
	}
	if !written {
		fmt.Fprintf(e.o.Log, "%s: another process recorded it first; this result is discarded\n", label)
		return true, nil
	}
	runLog("done", it.rr.Name, cs.owner.ID)
	kl, delta := "", ""
	if rr.KLStats != nil && rr.Kind != "baseline" {
		kl = fmt.Sprintf(", mean KL %.5f, top-1 %.2f%%", rr.MeanKL, 100*rr.Top1Agreement)
	}
	if b, _ := validRecord(e.c.Output, m.Runs[0], m.IdentityDigest); b != nil && rr.Kind != "baseline" {
		delta = fmt.Sprintf(" (%+.4f)", rr.PPL-b.Run.PPL)
	}
	fmt.Fprintf(e.o.Log, "      %s: ppl %.4f%s%s, %s, %.1f s\n", it.rr.Name, rr.PPL, delta, kl, mb(rr.TotalBytes), rr.WallSeconds)
	return true, nil
}

// compute measures one run under ctx.
func (e *executor) compute(ctx context.Context, it *item) (*RunResult, error) {
	saved := e.ctx
	e.ctx = ctx
	defer func() { e.ctx = saved }()
	rr := it.rr
	rr.Categories, rr.LayerErrors = nil, nil
	start := time.Now()
	if err := e.footprint(&rr, it.plan); err != nil {
		return nil, err
	}
	if it.pos == 0 {
		return &rr, e.evaluate(&rr, e.l.Model, start)
	}
	applied, release, err := e.quantize(it.run)
	if err != nil {
		return nil, err
	}
	for _, le := range applied.LayerErrors {
		rr.LayerErrors = append(rr.LayerErrors, LayerError{Name: le.Name, Layer: le.Layer, LayerKind: layerKind(e.l.Files.Config, le.Layer), Category: le.Category, RelError: le.RelError})
	}
	err = e.evaluate(&rr, applied.Model, start)
	release() // the rotated checkpoint, once its model is evaluated
	return &rr, err
}

// runLog appends a line to the file RunLogEnv names, if any.
func runLog(event, run, owner string) {
	p := os.Getenv(RunLogEnv)
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "%s %s %s\n", event, run, owner)
	f.Close()
}

// inputs are what an experiment reads: the model, the evaluation text and
// its windows.
type inputs struct {
	l       *runtime.Loaded
	text    datasets.Text
	ids     []int
	windows [][]int
}

// openInputs opens and checks everything an experiment reads (the model,
// the evaluation and calibration texts), so that a missing or unreadable
// one is refused before the output directory is created or changed.
func openInputs(c *Config, log io.Writer) (*inputs, error) {
	fmt.Fprintf(log, "Loading model %s\n", modelName(c.Model))
	l, err := runtime.OpenModel(c.Model, runtime.WeightsAuto)
	if err != nil {
		return nil, fmt.Errorf("%s: model: %w", c.File, err)
	}
	in, err := readTexts(c, l)
	if err != nil {
		l.Close()
		return nil, err
	}
	return in, nil
}

func readTexts(c *Config, l *runtime.Loaded) (*inputs, error) {
	text, err := datasets.Load(c.Eval.Text)
	if err != nil {
		return nil, fmt.Errorf("%s: eval: %w", c.File, err)
	}
	if _, err := datasets.Load(c.Calibration.Text); err != nil {
		return nil, fmt.Errorf("%s: calibration: %w", c.File, err)
	}
	body := text.Body
	if text.Name == datasets.WikiText2Test {
		body = eval.JoinRows(body)
	}
	ids := l.Tokenizer.Encode(body)
	windows := eval.Windows(ids, c.Eval.SeqLen, c.Eval.MaxWindows)
	if len(windows) == 0 {
		return nil, fmt.Errorf("%s: the evaluation text has %d tokens, fewer than one window of %d", c.File, len(ids), c.Eval.SeqLen)
	}
	return &inputs{l: l, text: text, ids: ids, windows: windows}, nil
}

type executor struct {
	c    *Config
	o    Options
	ctx  context.Context
	l    *runtime.Loaded
	ids  []int
	inv  *runtime.Inventory
	segs [][]int
	told map[string]bool // runs whose holder was named in the log
}

// hash identifies a run's resolved configuration: model, protocol,
// calibration and every category's full spec.
func (e *executor) hash(rc RunConfig, p *plan.Plan) string {
	specs := map[string]quant.Spec{}
	if p != nil {
		for _, c := range runtime.Categories {
			specs[string(c)] = p.SpecFor(c)
		}
	}
	var tensors map[string]quant.Spec
	var rot *rotation.Options
	if p != nil {
		tensors, rot = e.tensorSpecs(p), p.Rotation
	}
	// Fields added later are omitted when empty, so the hashes of runs
	// recorded before them are unchanged.
	b, _ := json.Marshal(struct {
		Version     int
		Model       string
		Eval        EvalConfig
		Calibration eval.CalibrationConfig
		LayerErrors bool
		Specs       map[string]quant.Spec
		Tensors     map[string]quant.Spec `json:",omitempty"`
		Rotation    *rotation.Options     `json:",omitempty"`
		Device      string                `json:",omitempty"`
	}{1, e.l.Files.Describe(), e.c.Eval, e.c.Calibration, e.c.LayerErrors, specs, tensors, rot, e.deviceName()})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// deviceName is the Device's name, empty for the CPU.
func (e *executor) deviceName() string {
	if e.o.Device == nil {
		return ""
	}
	return e.o.Device.Name()
}

// tensorSpecs are the per-tensor specs of a plan whose tensors are not all
// given by category (a llama.cpp recipe, overrides); nil otherwise, or when
// the plan does not resolve (the run then fails with that error).
func (e *executor) tensorSpecs(p *plan.Plan) map[string]quant.Spec {
	if p.Recipe == nil && len(p.Overrides) == 0 {
		return nil
	}
	dt, err := e.l.Files.StoredDTypes(nil)
	if err != nil {
		return nil
	}
	r, err := p.Resolve(e.inv, dt)
	if err != nil {
		return nil
	}
	out := map[string]quant.Spec{}
	for _, a := range r.Assignments {
		out[a.Param.Name] = a.Spec
	}
	return out
}

func (e *executor) footprint(rr *RunResult, p *plan.Plan) error {
	dt, err := e.l.Files.StoredDTypes(nil)
	if err != nil {
		return err
	}
	r, err := p.Resolve(e.inv, dt)
	if err != nil {
		return err
	}
	f := r.Footprint()
	rr.BaselineBytes, rr.TotalBytes, rr.Reduction = f.Baseline, f.Quantized, f.Reduction()
	for _, cb := range f.Categories {
		rr.Categories = append(rr.Categories, CategoryBytes{Category: string(cb.Category), Precision: cb.Precision(), BaselineBytes: cb.Baseline, QuantizedBytes: cb.Quantized})
	}
	return nil
}

func (e *executor) calibration() ([][]int, error) {
	if e.segs == nil {
		segs, err := eval.CalibrationSegments(e.l.Tokenizer, e.c.Calibration)
		if err != nil {
			return nil, err
		}
		e.segs = segs
	}
	return e.segs, nil
}

// quantize applies a run's plan to the model; release frees what the
// quantised model was made from (a rotated checkpoint) once it is evaluated.
func (e *executor) quantize(run Run) (applied *calib.Applied, release func(), err error) {
	float, release, err := e.floatWeights(run.Plan)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	dt, err := e.l.Files.StoredDTypes(nil)
	if err != nil {
		return nil, nil, err
	}
	r, err := run.Plan.Resolve(e.inv, dt)
	if err != nil {
		return nil, nil, err
	}
	if run.Imatrix != "" {
		w, err := runtime.ReadImatrix(run.Imatrix)
		if err == nil {
			err = r.UseImatrix(w, run.Imatrix)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	// Layer errors are measured for whole-model plans; a sensitivity run
	// quantises one category and is judged by its perplexity alone.
	measure := e.c.LayerErrors && run.Kind == "plan"
	opts := calib.ApplyOptions{MeasureErrors: measure, Context: e.ctx}
	if e.o.Device != nil {
		opts.Runner = e.o.Device.Calibration()
	}
	if measure || r.NeedsCalibration() {
		if opts.Segments, err = e.calibration(); err != nil {
			return nil, nil, err
		}
	}
	bar := progress.New(r.QuantizedCount(), "quantise", e.o.Quiet)
	opts.Progress = func(done, total int, name string) { bar.Set(done, "quantise") }
	defer bar.Finish()
	applied, err = calib.Apply(e.l.Files.Config, float, r, opts)
	return applied, release, err
}

// floatWeights are the weights a plan quantises: the model's own, or with
// the plan's residual rotation fused into them.
func (e *executor) floatWeights(p *plan.Plan) (runtime.WeightSource, func(), error) {
	if p.Rotation == nil {
		return e.l.Weights, func() {}, nil
	}
	ck, err := e.l.Files.OpenCheckpoint()
	if err != nil {
		return nil, nil, err
	}
	rot, err := p.Rotate(ck, e.l.Files.Config)
	if err != nil {
		return nil, nil, err
	}
	return runtime.NewCheckpointWeights(rot, e.inv, runtime.WeightsFloat32), func() { rot.Close() }, nil
}

// evaluate measures a run's perplexity; with eval.kl, a quantised run is
// compared with the float model instead, which gives the same perplexity
// and the KL statistics.
func (e *executor) evaluate(rr *RunResult, m *runtime.Model, start time.Time) error {
	n := len(eval.Windows(e.ids, e.c.Eval.SeqLen, e.c.Eval.MaxWindows))
	compare := e.c.Eval.KL && rr.Kind != "baseline"
	label := "eval"
	if compare {
		label = "compare"
	}
	bar := progress.New(n, label, e.o.Quiet)
	t0 := time.Now()
	show := func(done, total int) {
		bar.Set(done, fmt.Sprintf("%s %.0f tok/s", label, float64(done*e.c.Eval.SeqLen)/time.Since(t0).Seconds()))
	}
	var err error
	if compare {
		err = e.compare(rr, m, show)
	} else {
		err = e.perplexity(rr, m, show)
	}
	bar.Finish()
	if err != nil {
		return err
	}
	rr.WallSeconds, rr.Device = time.Since(start).Seconds(), e.deviceName()
	return checkFiniteRun(rr)
}

func (e *executor) perplexity(rr *RunResult, m *runtime.Model, show eval.Progress) error {
	var r eval.Result
	var err error
	if e.o.Device != nil {
		r, err = e.o.Device.Perplexity(e.ctx, m, e.ids, e.c.Eval.SeqLen, e.c.Eval.MaxWindows, show)
	} else {
		r, err = eval.PerplexityContext(e.ctx, m, e.ids, e.c.Eval.SeqLen, e.c.Eval.MaxWindows, show)
	}
	if err != nil {
		return err
	}
	rr.PPL, rr.MeanNLL = r.PPL, r.MeanNLL
	if e.c.Eval.KL {
		// The float model against itself: KL 0 and agreement 1 exactly.
		rr.KLStats = &eval.KLStats{Positions: r.Windows * (r.SeqLen - 1), Top1Agreement: 1}
	}
	return nil
}

// compare evaluates m against the float model (the baseline run's model).
func (e *executor) compare(rr *RunResult, m *runtime.Model, show eval.Progress) error {
	var r eval.KLResult
	var err error
	if e.o.Device != nil {
		r, err = e.o.Device.Compare(e.ctx, m, e.l.Model, e.ids, e.c.Eval.SeqLen, e.c.Eval.MaxWindows, show)
	} else {
		r, err = eval.CompareContext(e.ctx, m, e.l.Model, e.ids, e.c.Eval.SeqLen, e.c.Eval.MaxWindows, show)
	}
	if err != nil {
		return err
	}
	rr.PPL, rr.MeanNLL = r.PPL, r.MeanNLL
	rr.KLStats = &r.KLStats
	return nil
}

// runConfig summarises a run for results and plots.
func runConfig(run Run) RunConfig {
	p := run.Plan
	rc := RunConfig{Plan: p.Name, Category: run.Category, Categories: map[string]string{}, Searched: p.Origin == plan.OriginSearch}
	if p.Rotation != nil {
		rc.Rotation = fmt.Sprintf("%s seed %d", p.Rotation.Kind, p.Rotation.Seed)
	}
	if p.Recipe != nil {
		// The recipe gives each tensor its type; the run's per-category
		// bytes and precisions are in its footprint.
		rc.Recipe, rc.Method = p.Recipe.String(), quant.GGMLMethod
		rc.LlamaCpp = p.Recipe.Rounding == "" && p.Rotation == nil && len(p.Categories) == 0 && len(p.Overrides) == 0
		return rc
	}
	var best int64 = -1
	for _, c := range runtime.Categories {
		s := run.Plan.SpecFor(c)
		rc.Categories[string(c)] = s.String()
		if s.Keep {
			continue
		}
		// The method and bits of the largest quantised category (by
		// display order weight: projections first) summarise the plan.
		w := categoryWeight(c)
		if w > best {
			best, rc.Method, rc.Bits = w, s.Method, s.Bits
			if s.Rotation != "" {
				rc.Method += "-" + s.Rotation
			}
			if s.Rounding != "" && s.Rounding != "rtn" {
				rc.Method += "-" + s.Rounding
			}
		}
	}
	return rc
}

// categoryWeight ranks categories by their usual share of parameters.
func categoryWeight(c runtime.Category) int64 {
	switch c {
	case runtime.MLPUp, runtime.MLPDown:
		return 5
	case runtime.SSMInProj:
		return 4
	case runtime.SSMOutProj:
		return 3
	case runtime.Embedding, runtime.LMHead:
		return 2
	case runtime.AttnQ, runtime.AttnK, runtime.AttnV, runtime.AttnO:
		return 1
	}
	return 0
}

func layerKind(cfg *runtime.Config, layer int) string {
	if layer < 0 || layer >= len(cfg.Layers) {
		return "lm_head"
	}
	return cfg.Layers[layer].String()
}

func modelName(ref string) string {
	if ref == "" {
		return models.Default + " (embedded)"
	}
	return ref
}

func mb(b int64) string { return fmt.Sprintf("%.3f MB", float64(b)/1e6) }

// footprints8B resolves each run's plan (and the shipped seed plans) on the
// Nemotron-H-8B config, which needs shapes only.
func footprints8B(c *Config) ([]PlanFootprint, error) {
	mf, err := runtime.ResolveModel("nemotron-h-8b-base-8k")
	if err != nil {
		return nil, err
	}
	inv := runtime.BuildInventory(mf.Config)
	dt, err := mf.StoredDTypes(nil)
	if err != nil {
		return nil, err
	}
	var out []PlanFootprint
	seen := map[string]bool{}
	add := func(name string, p *plan.Plan) {
		if seen[name] {
			return
		}
		seen[name] = true
		r, err := p.Resolve(inv, dt)
		if err != nil {
			return // a plan whose groups do not fit the 8B shapes has no 8B footprint
		}
		f := r.Footprint()
		pf := PlanFootprint{Plan: name, Model: mf.Describe(), Baseline: f.Baseline, Quantized: f.Quantized}
		for _, cb := range f.Categories {
			pf.Categories = append(pf.Categories, CategoryBytes{Category: string(cb.Category), Precision: cb.Precision(), BaselineBytes: cb.Baseline, QuantizedBytes: cb.Quantized})
		}
		out = append(out, pf)
	}
	for _, n := range []string{"seed", "seed-emb8"} {
		p, err := plans.Load(n)
		if err != nil {
			return nil, err
		}
		add(n, p)
	}
	for _, r := range c.Runs {
		if r.Kind == "plan" {
			add(r.Name, r.Plan)
		}
	}
	return out, nil
}

// ReadResults reads a results directory's results.json.
func ReadResults(dir string) (*Results, error) {
	b, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	if err != nil {
		return nil, err
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, ResultsFile), err)
	}
	return &r, nil
}

func writeResults(dir string, r *Results) error {
	if err := checkFiniteResults(r); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ResultsFile), b)
}

func copyConfig(c *Config) error {
	b, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(c.Output, "experiment.yaml"), b)
}

// writePlan records the exact plan a run used, as a plan file that
// `hyquant quantize --plan` accepts.
func writePlan(dir string, run Run) error {
	return atomicfile.WriteFile(filepath.Join(dir, "plans", run.Name+".yaml"), run.Plan.YAML())
}

// fileDigest is the hex SHA-256 of a file's bytes.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// rehash folds more identity into a run hash.
func rehash(hash, more string) string {
	h := sha256.Sum256([]byte(hash + "\n" + more))
	return hex.EncodeToString(h[:8])
}
