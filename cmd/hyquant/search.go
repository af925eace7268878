package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/internal/atomicfile"
	"github.com/hyquant/hyquant/internal/limits"
	"github.com/hyquant/hyquant/internal/progress"
	"github.com/hyquant/hyquant/internal/table"
	"github.com/hyquant/hyquant/internal/units"
	"github.com/hyquant/hyquant/plans"
	"github.com/hyquant/hyquant/quant/search"
	"github.com/hyquant/hyquant/reports"
	hqruntime "github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

type searchOptions struct {
	model, budget, formats, method, objective, out, work, figure string
	damp                                                         float64
	calib                                                        string
	segments, length                                             int
	seed                                                         int64
	windows, heldOut, windowLength                               int
	generations, offspring                                       int
	searchSeed                                                   int64
	force, discard, asJSON                                       bool
}

func newSearchCmd() *cobra.Command {
	var o searchOptions
	cmd := &cobra.Command{
		Use:   "search --budget <13.0MB | 4.5bpw | 58% | plan> --out <plan.yaml>",
		Short: "Find the per-tensor precisions with the least damage under a byte budget, and write them as a plan",
		Long: `search chooses, for every projection weight and the token embedding (lm_head
included), one of --formats so that the model's exact tensor bytes (as 'hyquant
plan' counts them) fit the budget and the objective is least:

 1. Sensitivity: each tensor alone is quantised to each format (every other
    tensor float) and the objective's increase is measured on --windows windows
    of the calibration text (KL divergence from the float model, or the loss
    increase for --objective ppl). Each measurement is a record in the work
    directory; a rerun reads them back.
 2. Knapsack: a dynamic program picks the assignment with the least sum of
    increases (the additive model) within the budget.
 3. Refinement (EvoPress-style): --generations rounds mutate the best
    assignment so far at the same budget (one or two tensors a level up, others
    down until it fits) into --offspring children, measured whole on --held-out
    windows taken from the last 15% of the text, disjoint from the sensitivity
    windows; a child that beats its parent there replaces it.

The plan it writes is an ordinary plan (one override per tensor, everything
else kept in F32 as llama.cpp keeps it): 'hyquant quantize', 'export' and
experiments use it like any other, and its header records the budget and the
predicted and measured objective. Calibration (GPTQ's Hessians, importance
matrices) is sampled exactly as experiments sample it.

Budgets: bytes with a unit (13.0MB = 13,000,000 bytes; KiB/MiB/GiB are powers
of two), bits per parameter (4.5bpw), a reduction from the stored model (58% =
58% smaller, the sense of the "15.45 GB -> ~6.5 GB, 58%" claim), or a plan
whose exact bytes become the budget (seed-emb8, llama-q4_k_m, a file).

--objective proxy runs no forward pass: each format costs the tensor's
importance-weighted relative weight error on a sample of rows, weighted by its
parameter share. It is for models too large to run here (the 8B); it is not
refined, and its additivity is not checked.`,
		Example: `  hyquant search --budget 13.0MB --out plans/searched-13mb.yaml
  hyquant search --budget llama-q4_k_m --out my-q4km-sized.yaml
  hyquant search --model out/8b-synth --budget 58% --objective proxy --out 8b-58.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := interruptible()
			defer stop()
			return runSearch(cmd.OutOrStdout(), cmd.Flags().Changed("segments"), o, ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model directory, GGUF file or embedded name (default nemotron-h-mini)")
	f.StringVar(&o.budget, "budget", "", "byte budget: 13.0MB, 4.5bpw, 58% (a reduction) or a plan (required)")
	f.StringVar(&o.out, "out", "", "plan file to write (required)")
	f.StringVar(&o.formats, "formats", search.DefaultFormats, "formats a tensor may take: ggml types and bf16/f16/f32")
	f.StringVar(&o.method, "method", search.RoundGPTQ, "how block codes are chosen: gptq (GPTQ inside llama.cpp's blocks) or rtn (llama-quantize's rounding), both importance-weighted")
	f.Float64Var(&o.damp, "damp", 0.1, "GPTQ dampening, a fraction of mean(diag H)")
	f.StringVar(&o.objective, "objective", string(search.KL), "what to minimise: kl, ppl or proxy")
	f.StringVar(&o.calib, "calib", "wikitext103-valid", "calibration text: embedded name or file (never the evaluation split)")
	f.IntVar(&o.segments, "segments", 64, "calibration segments for GPTQ and importance matrices (proxy: default 0, none)")
	f.IntVar(&o.length, "length", 512, "tokens per calibration segment")
	f.Int64Var(&o.seed, "seed", 0, "calibration sampling seed")
	f.IntVar(&o.windows, "windows", 8, "sensitivity windows")
	f.IntVar(&o.heldOut, "held-out", 8, "held-out windows that decide the refinement")
	f.IntVar(&o.windowLength, "window-length", 512, "tokens per sensitivity and held-out window")
	f.IntVar(&o.generations, "generations", 40, "refinement generations (0: the knapsack's assignment)")
	f.IntVar(&o.offspring, "offspring", 4, "children per generation")
	f.Int64Var(&o.searchSeed, "search-seed", 1, "seed of the refinement's mutations")
	f.StringVar(&o.work, "work", "", "work directory of the records (default results/search/<model>-<settings digest>)")
	f.StringVar(&o.figure, "figure", "", "precision map PNG (default: the plan's path with .png)")
	f.BoolVar(&o.force, "force", false, "replace an existing --out file (and its precision map)")
	f.BoolVar(&o.discard, "discard-records", false, "delete the records of a --work directory that holds a search of other settings, and start it afresh")
	f.BoolVar(&o.asJSON, "json", false, "write JSON instead of text")
	cmd.MarkFlagRequired("budget")
	cmd.MarkFlagRequired("out")
	return cmd
}

// checkSearch validates the flags before any work.
func checkSearch(o *searchOptions, segmentsSet bool) (search.Options, error) {
	var so search.Options
	var err error
	if so.Objective, err = search.ParseObjective(o.objective); err != nil {
		return so, err
	}
	if so.Objective == search.Proxy && !segmentsSet {
		o.segments = 0
	}
	if o.segments != 0 || so.Objective != search.Proxy {
		if err := limits.Segments.Flag("segments", o.segments); err != nil {
			return so, fmt.Errorf("%v (the %s objective quantises with GPTQ and importance matrices from calibration)", err, so.Objective)
		}
	}
	if err := limits.Length.Flag("length", o.length); err != nil {
		return so, err
	}
	counts := limits.Int{Min: 1, Max: 10000}
	for _, c := range []struct {
		name   string
		v      int
		within limits.Int
	}{
		{"windows", o.windows, counts}, {"held-out", o.heldOut, counts}, {"offspring", o.offspring, counts},
		{"generations", o.generations, limits.Int{Min: 0, Max: 100000}},
		{"window-length", o.windowLength, limits.Int{Min: 2, Max: 1 << 16}},
	} {
		if err := c.within.Flag(c.name, c.v); err != nil {
			return so, err
		}
	}
	if o.damp < 0 || o.damp >= 1 {
		return so, fmt.Errorf("--damp %g is outside [0, 1)", o.damp)
	}
	if so.Formats, err = search.ParseFormats(o.formats); err != nil {
		return so, fmt.Errorf("--formats: %v", err)
	}
	if o.method != search.RoundGPTQ && o.method != search.RoundRTN {
		return so, fmt.Errorf("--method %q is not %s or %s", o.method, search.RoundGPTQ, search.RoundRTN)
	}
	if st, err := os.Stat(o.out); err == nil {
		if st.IsDir() {
			return so, fmt.Errorf("--out %s is a directory; a plan is a file", o.out)
		}
		if !o.force {
			return so, fmt.Errorf("--out %s exists; use --force to replace it", o.out)
		}
	}
	damp := o.damp
	if o.method == search.RoundRTN {
		damp = 0
	}
	name := strings.TrimSuffix(filepath.Base(o.out), filepath.Ext(o.out))
	so.Name, so.Rounding, so.Damp = name, o.method, damp
	so.Calibration = eval.CalibrationConfig{Text: o.calib, Segments: o.segments, Length: o.length, Seed: o.seed}
	so.Windows, so.HeldOut, so.WindowLength = o.windows, o.heldOut, o.windowLength
	so.Refine = search.RefineOptions{Generations: o.generations, Offspring: o.offspring, Seed: o.searchSeed}
	so.Discard = o.discard
	return so, nil
}

type searchJSON struct {
	Model             string            `json:"model"`
	Plan              string            `json:"plan"`
	Figure            string            `json:"figure"`
	Work              string            `json:"work"`
	Budget            string            `json:"budget"`
	BudgetBytes       int64             `json:"budget_bytes"`
	Bytes             int64             `json:"bytes"`
	StoredBytes       int64             `json:"stored_bytes"`
	Objective         string            `json:"objective"`
	Predicted         float64           `json:"predicted"`
	SensitivityValue  float64           `json:"measured_sensitivity_windows"`
	HeldOutValue      float64           `json:"measured_held_out"`
	KnapsackPredicted float64           `json:"knapsack_predicted"`
	KnapsackSens      float64           `json:"knapsack_sensitivity_windows"`
	KnapsackHeldOut   float64           `json:"knapsack_held_out"`
	Generations       int               `json:"generations"`
	Accepted          int               `json:"accepted"`
	Seconds           float64           `json:"seconds"`
	Formats           map[string]string `json:"formats"`
}

func runSearch(w io.Writer, segmentsSet bool, o searchOptions, ctx context.Context) error {
	so, err := checkSearch(&o, segmentsSet)
	if err != nil {
		return err
	}
	so.Context = ctx
	mf, err := hqruntime.ResolveModel(o.model)
	if err != nil {
		return err
	}
	if mf.ConfigOnly {
		return fmt.Errorf("model %q is a config without weights (write synthetic weights with `hyquant synth`)", mf.Ref)
	}
	ck, err := mf.OpenCheckpoint()
	if err != nil {
		return err
	}
	stored, err := mf.StoredDTypes(ck)
	ck.Close()
	if err != nil {
		return err
	}
	m, closeModel, err := searchModel(o, so, mf, stored)
	if err != nil {
		return err
	}
	defer closeModel()
	inv := hqruntime.BuildInventory(mf.Config)
	planBytes := func(ref string) (int64, error) {
		p, err := plans.Load(ref)
		if err != nil {
			return 0, err
		}
		r, err := p.Resolve(inv, stored)
		if err != nil {
			return 0, err
		}
		return r.Footprint().Quantized, nil
	}
	if so.Work = o.work; so.Work == "" {
		name, err := search.WorkName(m, so)
		if err != nil {
			return err
		}
		so.Work = filepath.Join("results", "search", name)
	}
	if !o.asJSON {
		fmt.Fprintf(w, "Searching %s for the least %s under budget %s\n", mf.Describe(), so.Objective, o.budget)
		fmt.Fprintf(w, "  formats %s; %s rounding", o.formats, so.Rounding)
		if so.Rounding == search.RoundGPTQ {
			fmt.Fprintf(w, " (damp %g)", so.Damp)
		}
		fmt.Fprintf(w, "; calibration %s %d×%d seed %d\n", o.calib, o.segments, o.length, o.seed)
		if so.Objective != search.Proxy {
			fmt.Fprintf(w, "  sensitivity windows %d×%d; held-out windows %d×%d; %d generations × %d children\n", o.windows, o.windowLength, o.heldOut, o.windowLength, o.generations, o.offspring)
		}
		fmt.Fprintf(w, "  records in %s (a rerun resumes from them)\n", so.Work)
	}
	var bar *progress.Bar
	var stages []string
	stageStart, stageName := time.Now(), ""
	endStage := func() {
		if stageName != "" {
			stages = append(stages, fmt.Sprintf("%s %.0f s", stageName, time.Since(stageStart).Seconds()))
		}
	}
	so.Stage = func(name string, total int) {
		if bar != nil {
			bar.Finish()
		}
		endStage()
		stageStart, stageName = time.Now(), name
		bar = progress.New(total, name, o.asJSON)
	}
	so.Progress = func(done int, detail string) { bar.Set(done, detail) }
	r, err := search.Run(m, o.budget, planBytes, so)
	if bar != nil {
		bar.Finish()
	}
	endStage()
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted: every measurement finished so far is a record in %s; run the same command again to continue", so.Work)
	}
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(o.out, append([]byte(searchHeader(r, o)), r.Plan.YAML()...)); err != nil {
		return err
	}
	fig := o.figure
	if fig == "" {
		fig = strings.TrimSuffix(o.out, filepath.Ext(o.out)) + ".png"
	}
	title := fmt.Sprintf("%s: %s bytes for budget %s", r.Plan.Name, units.Commas(r.Bytes), r.Budget.Asked)
	note := fmt.Sprintf("hyquant search on %s, least %s, formats %s", r.Model, so.Objective, o.formats)
	if err := reports.PrecisionMap(fig, title, []string{note}, r.Resolved); err != nil {
		return err
	}
	out := searchJSON{Model: r.Model, Plan: o.out, Figure: fig, Work: so.Work, Budget: r.Budget.Asked, BudgetBytes: r.Budget.Bytes, Bytes: r.Bytes,
		StoredBytes: r.Space.Stored, Objective: string(so.Objective), Predicted: r.Predicted, SensitivityValue: r.FinalSensitivity, HeldOutValue: r.FinalHeldOut,
		KnapsackPredicted: r.KnapsackPredicted, KnapsackSens: r.KnapsackSensitivity, KnapsackHeldOut: r.KnapsackHeldOut,
		Generations: r.Refinement.Generations, Accepted: r.Refinement.Accepted, Seconds: r.Seconds, Formats: r.Space.Names(r.Pick)}
	if o.asJSON {
		return writeJSON(w, out)
	}
	printSearch(w, r, out)
	fmt.Fprintf(w, "Stages: %s\n", strings.Join(stages, ", "))
	return nil
}

// searchModel opens the model a search runs on. The proxy objective
// without calibration runs nothing: the checkpoint is only read, a tensor
// at a time, so an 8B model needs a few GB, not its float32 copy.
func searchModel(o searchOptions, so search.Options, mf *hqruntime.ModelFiles, stored func(string) safetensors.DType) (search.Model, func(), error) {
	if so.Objective == search.Proxy && so.Calibration.Segments == 0 {
		ck, err := mf.OpenCheckpointStream()
		if err != nil {
			return search.Model{}, nil, err
		}
		inv := hqruntime.BuildInventory(mf.Config)
		if err := inv.CheckAgainst(ck); err != nil {
			ck.Close()
			return search.Model{}, nil, err
		}
		d, err := mf.Digest()
		if err != nil {
			ck.Close()
			return search.Model{}, nil, err
		}
		m := search.Model{Config: mf.Config, Ref: mf.Ref, Describe: mf.Describe(), Digest: d, Stored: stored, Weights: hqruntime.NewCheckpointWeights(ck, inv, hqruntime.WeightsFloat32)}
		return m, func() { ck.Close() }, nil
	}
	l, err := hqruntime.OpenModel(o.model, hqruntime.WeightsFloat32)
	if err != nil {
		return search.Model{}, nil, err
	}
	m, err := search.Loaded(l, stored)
	if err != nil {
		l.Close()
		return search.Model{}, nil, err
	}
	return m, func() { l.Close() }, nil
}

// printSearch is the search's summary for people.
func printSearch(w io.Writer, r *search.Result, out searchJSON) {
	fmt.Fprintf(w, "\nBudget %s = %s bytes (%s)\n", r.Budget.Asked, units.Commas(r.Budget.Bytes), r.Budget.How)
	fmt.Fprintf(w, "Chosen: %s bytes = %s, %s of the stored %s bytes (%s smaller)\n", units.Commas(r.Bytes), units.Both(r.Bytes),
		units.Percent(float64(r.Bytes)/float64(r.Space.Stored)), units.Commas(r.Space.Stored), units.Percent(1-float64(r.Bytes)/float64(r.Space.Stored)))
	counts := map[string]int{}
	bytes := map[string]int64{}
	for t, k := range r.Pick {
		c := r.Space.Tensors[t].Options[k]
		counts[c.Format.Name]++
		bytes[c.Format.Name] += c.Bytes
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return bytes[names[i]] > bytes[names[j]] })
	tb := table.New("format", "tensors", "bytes")
	for _, n := range names {
		tb.Row(n, counts[n], units.Commas(bytes[n]))
	}
	tb.Row("fixed (F32, biases)", "", units.Commas(r.Space.Fixed))
	tb.Render(w)
	obj := out.Objective
	if obj == string(search.Proxy) {
		fmt.Fprintf(w, "Proxy objective (Σ share × relative weight error): %.6g\n", r.Predicted)
	} else {
		fmt.Fprintf(w, "%s increase over the float model          predicted (Σ)   sensitivity windows   held-out windows\n", obj)
		fmt.Fprintf(w, "  knapsack's assignment                    %12.6g   %19.6g   %16.6g\n", r.KnapsackPredicted, r.KnapsackSensitivity, r.KnapsackHeldOut)
		fmt.Fprintf(w, "  after %3d generations (%d accepted)       %12.6g   %19.6g   %16.6g\n", r.Refinement.Generations, r.Refinement.Accepted, r.Predicted, r.FinalSensitivity, r.FinalHeldOut)
	}
	fmt.Fprintf(w, "Wrote %s (plan) and %s (precision map) in %.0f s\n", out.Plan, out.Figure, r.Seconds)
}

// searchHeader is the comment block a searched plan starts with.
func searchHeader(r *search.Result, o searchOptions) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, "# "+format+"\n", args...) }
	line("Written by `hyquant search` on %s, %s.", r.Model, time.Now().UTC().Format("2006-01-02"))
	line("Budget %s = %s bytes (%s); this plan: %s tensor bytes.", r.Budget.Asked, units.Commas(r.Budget.Bytes), r.Budget.How, units.Commas(r.Bytes))
	line("Formats %s, %s rounding (damp %g); objective %s.", o.formats, r.Options.Rounding, r.Options.Damp, r.Options.Objective)
	c := r.Options.Calibration
	line("Calibration %s, %d segments of %d tokens, seed %d.", c.Text, c.Segments, c.Length, c.Seed)
	if r.Options.Objective == search.Proxy {
		line("Proxy objective (no forward pass): %.6g.", r.Predicted)
	} else {
		line("Objective (%s increase over the float model): predicted by the additive model %.6g;", r.Options.Objective, r.Predicted)
		line("  measured on the %d sensitivity tokens %.6g, on the %d held-out tokens %.6g", r.Tokens.Sensitivity, r.FinalSensitivity, r.Tokens.HeldOut, r.FinalHeldOut)
		line("  (the knapsack's assignment before %d refinement generations: %.6g held-out).", r.Refinement.Generations, r.KnapsackHeldOut)
	}
	line("Reproduce: hyquant search --budget %s --out %s (add the flags above that differ from the defaults).", r.Budget.Asked, o.out)
	return b.String()
}
