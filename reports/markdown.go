package reports

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/experiments"
	"github.com/hyquant/hyquant/internal/table"
	"github.com/hyquant/hyquant/internal/units"
	"github.com/hyquant/hyquant/models"
	"github.com/hyquant/hyquant/plans"
	"github.com/hyquant/hyquant/quant/plan"
)

// report.md: what was run, the results table, the figures with captions,
// the sensitivity table, the 58% verdict for the 8B, and the command behind
// every number.

// model8B is the embedded name of the Nemotron-H-8B config.
const model8B = "nemotron-h-8b-base-8k"

// claimCloseTo65 is how near "~6.5" a size in the claim's unit must be.
const claimCloseTo65 = 0.05

func markdown(dir string, d *data, figs []figureResult) string {
	var b strings.Builder
	r := d.r
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	name := r.Experiment
	if name == "" {
		name = "experiment"
	}
	p("# Quantisation report: %s\n\n", code(name))
	p("Written by `reports.Write` from `results.json`; every number below is read from it, and the [last section](#reproduce) gives the command that reproduces each one.\n\n")

	// What was run.
	p("## What was run\n\n")
	if r.ConfigFile != "" {
		p("- **Experiment:** %s, config %s (a copy is kept as %s).\n", code(name), code(r.ConfigFile), code(slash(filepath.Join(dir, "experiment.yaml"))))
	} else {
		p("- **Experiment:** %s (config copy: %s).\n", code(name), code(slash(filepath.Join(dir, "experiment.yaml"))))
	}
	p("- **Model:** %s", code(orDash(r.Model)))
	if r.ModelInfo != "" && r.ModelInfo != r.Model {
		p(" (%s)", code(r.ModelInfo))
	}
	if r.Params > 0 {
		p(", %s parameters", units.Commas(r.Params))
	}
	if d.baseline != nil && d.baseline.TotalBytes > 0 {
		p(", %s bytes as stored (%s)", units.Commas(d.baseline.TotalBytes), units.Both(d.baseline.TotalBytes))
	}
	p(".\n")
	ev := r.Eval
	windows := fmt.Sprintf("all %d windows", ev.Windows)
	if ev.MaxWindows > 0 {
		windows = fmt.Sprintf("the first %d windows (--max-windows %d)", ev.Windows, ev.MaxWindows)
	}
	p("- **Evaluation:** perplexity on %s, seq_len %d, %s, %s tokens. Protocol: non-overlapping windows of seq_len tokens (the tail is dropped), ppl = exp(mean over windows of each window's mean next-token loss).\n",
		code(orDash(ev.Text)), ev.SeqLen, windows, units.Commas(int64(ev.Tokens)))
	p("- **Calibration:** %s, %d segments × %d tokens, seed %d (used by calibrated methods and for the per-layer errors).\n", code(orDash(r.Calib.Text)), r.Calib.Segments, r.Calib.Length, r.Calib.Seed)
	if r.Machine.CPU != "" || r.Machine.GoVer != "" {
		p("- **Machine:** %s, %d threads, %s (wall times are from this machine).\n", printable(orDash(r.Machine.CPU)), r.Machine.Threads, printable(orDash(r.Machine.GoVer)))
	}
	nb := 0
	if d.baseline != nil {
		nb = 1
	}
	p("- **Runs:** %d in all: %d baseline, %d whole-model plans, %d single-category sensitivity runs", len(r.Runs), nb, len(d.plans), len(d.sens))
	if other := len(r.Runs) - nb - len(d.plans) - len(d.sens); other > 0 {
		p(", %d other", other)
	}
	p(".\n\n")
	if d.baseline == nil {
		p("> No baseline run in results.json: Δ ppl values are as recorded, and figures mark no baseline.\n\n")
	}
	if len(r.Pending) > 0 {
		p("> %d configured run(s) have no record yet (shards still at work, or interrupted) and are not shown: %s.\n\n", len(r.Pending), codeList(r.Pending))
	}

	// Results table.
	p("## Results\n\n")
	if len(d.all) == 0 {
		p("No runs in results.json.\n\n")
	} else {
		header := []string{"run", "kind", "precision", "bytes", "MB", "reduction", "ppl", "Δ ppl"}
		withKL := hasKL(d.all)
		if withKL {
			header = append(header, "mean KL", "KL p99", "top-1")
		}
		t := table.New(append(header, "wall s")...)
		for _, run := range d.all {
			delta := fmt.Sprintf("%+.4f", run.DeltaPPL)
			if run.Kind == "baseline" {
				delta = "0 (reference)"
			}
			if !finite(run.PPL) {
				delta = "—"
			}
			row := []any{code(run.Name), printable(run.Kind), printable(precisionSummary(run)), units.Commas(run.TotalBytes), fmt.Sprintf("%.3f", float64(run.TotalBytes)/units.MB),
				units.Percent(run.Reduction), fmtPPL4(run.PPL), delta}
			if withKL {
				row = append(row, klCells(run)...)
			}
			t.Row(append(row, fmt.Sprintf("%.1f", run.WallSeconds))...)
		}
		t.Markdown(&b)
		p("\nMB = 10^6 bytes (exact stored bytes: codes, scales, zero points and auxiliary tensors); reduction = 1 − bytes / baseline bytes; Δ ppl = ppl − baseline ppl; precision lists the quantised categories by precision (`g128` = groups of 128 inputs, symmetric with fp16 scales unless it says otherwise).")
		if withKL {
			p(" Mean KL = mean over the scored positions of KL(P_baseline ‖ P_run) in nats, KL p99 its 99th percentile, top-1 = share of positions where both models' most likely token agrees.")
		}
		p("\n\n")
	}

	// Figures.
	p("## Figures\n\n")
	titles := []string{"Perplexity vs memory", "Per-category sensitivity", "Per-layer quantisation error", "Weight outliers per category", "Memory by category", "llama.cpp vs hyquant at equal bytes"}
	for i, fr := range figs {
		n := i + 1
		if fr.omitted {
			continue
		}
		if fr.fig == nil {
			why := fr.skipped
			if why == "" {
				why = "nothing to draw"
			}
			p("### Figure %d: %s\n\n*Not drawn: %s.*\n\n", n, titles[i], why)
			continue
		}
		f := fr.fig
		file := filepath.Base(f.Path)
		p("### Figure %d: %s\n\n", n, titles[i])
		p("![Figure %d: %s](%s)\n\n", n, f.Title, file)
		p("*Figure %d (`%s`).* %s\n\n", n, file, f.Caption)
	}

	// Sensitivity.
	p("## Sensitivity: one category quantised at a time\n\n")
	m := sensitivity(d)
	if len(m.cats) == 0 {
		p("This experiment has no sensitivity runs, so there is no per-category table and figure 2 is not drawn. Add sensitivity runs to the experiment config to get them.\n\n")
	} else {
		header := []string{"category", "rollup"}
		for _, s := range m.series {
			h := "Δ ppl " + s.label
			if s.prec != "" {
				h += " (" + s.prec + ")"
			}
			header = append(header, h)
		}
		t := table.New(header...)
		for ci, c := range m.cats {
			row := []any{"`" + c + "`", rollupOf(c)}
			for si := range m.series {
				run := m.at(ci, si)
				switch {
				case run == nil:
					row = append(row, "not run")
				case math.IsNaN(run.DeltaPPL) || math.IsInf(run.DeltaPPL, 0):
					row = append(row, fmt.Sprint(run.DeltaPPL))
				default:
					row = append(row, fmt.Sprintf("%+.3f (%s)", run.DeltaPPL, code(run.Name)))
				}
			}
			t.Row(row...)
		}
		t.Markdown(&b)
		p("\nΔ ppl = ppl with only that category quantised − baseline ppl; negative means the quantised model scored slightly better (within evaluation noise).\n\n")
	}

	// Layer errors.
	if runs, _ := layerErrorRuns(d); len(runs) > 0 {
		p("## Per-layer error by layer kind\n\n")
		header := []string{"run"}
		kinds := map[string]bool{}
		for _, run := range runs {
			for _, e := range run.LayerErrors {
				kinds[e.LayerKind] = true
			}
		}
		ks := orderedKinds(kinds)
		for _, k := range ks {
			header = append(header, k)
		}
		t := table.New(header...)
		for _, run := range runs {
			row := []any{code(run.Name)}
			for _, k := range ks {
				row = append(row, geoMeanError(run.LayerErrors, k))
			}
			t.Row(row...)
		}
		t.Markdown(&b)
		p("\nGeometric mean of the relative output error ‖WX − QX‖² / ‖WX‖² over the quantised linear layers of each kind (calibration data), for the runs of figure 3.\n\n")
	}

	// Weight statistics.
	if sums := weightSummaries(d); len(sums) > 0 {
		p("## Weight outlier statistics\n\n")
		t := table.New("category", "rollup", "rows", "median max/std", "p99 max/std", "median excess kurtosis", "p99 excess kurtosis")
		for _, s := range sums {
			t.Row("`"+s.category+"`", rollupOf(s.category), s.rows, fmtStat(s.mosMedian), fmtStat(s.mosP99), fmtStat(s.kurtMedian), fmtStat(s.kurtP99))
		}
		t.Markdown(&b)
		p("\nPer output channel (row) of the original weights, subsampled rows; a Gaussian row of a few thousand inputs has max/std near 4 and excess kurtosis 0.\n\n")
	}

	// The 58% claim.
	p("## Nemotron-H-8B footprints and the 58%% claim\n\n")
	verdict(&b, d, dir)

	// Reproduce.
	p("## Reproduce\n\n")
	reproduce(&b, d, dir)
	return b.String()
}

// verdict writes the 8B table and the 58% verdict with exact byte counts.
func verdict(b *strings.Builder, d *data, dir string) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("Units: **GB** = 10^9 bytes, **GiB** = 2^30 bytes, and the claim's own \"GB\" (**claim-GB** below) = bytes / 2^20 / 1000, mebibytes divided by a thousand. The claim under test: *\"15.45 GB → ~6.5 GB, a 58%% reduction\"*. A plan reaches 58%% when its reduction rounds to 58%% (57.5%% or more).\n\n")
	fps := d.r.Footprints8B
	if len(fps) == 0 {
		p("No 8B footprints in results.json, so the claim cannot be checked here. `go run ./cmd/hyquant plan %s --plan seed` and `--plan seed-emb8` compute them from the config's shapes.\n\n", model8B)
		return
	}
	base := fps[0].Baseline
	bc := plan.CheckClaim(plan.Footprint{Baseline: base, Quantized: base})
	t := table.New("plan", "bytes", "GB", "GiB", "claim-GB", "reduction", "reaches 58%")
	t.Row("bf16 baseline", units.Commas(base), fmt.Sprintf("%.3f", float64(base)/units.GB), fmt.Sprintf("%.3f", float64(base)/units.GiB), fmt.Sprintf("%.3f", bc.BaselineClaimUnits), "—", "—")
	var reach, notReach, asQuoted []plan.ClaimCheck
	var reachNames, notNames, quotedNames []string
	for _, fp := range fps {
		c := plan.CheckClaim(plan.Footprint{Baseline: fp.Baseline, Quantized: fp.Quantized})
		mark := "no"
		if c.Reaches58 {
			mark = "yes"
		}
		t.Row(code(fp.Plan), units.Commas(fp.Quantized), fmt.Sprintf("%.3f", float64(fp.Quantized)/units.GB), fmt.Sprintf("%.3f", float64(fp.Quantized)/units.GiB),
			fmt.Sprintf("%.3f", c.QuantizedClaimUnits), units.Percent(c.Reduction), mark)
		switch {
		case c.Reaches58 && math.Abs(c.QuantizedClaimUnits-plan.ClaimQuantized) < claimCloseTo65:
			asQuoted, quotedNames = append(asQuoted, c), append(quotedNames, fp.Plan)
		case c.Reaches58:
			reach, reachNames = append(reach, c), append(reachNames, fp.Plan)
		default:
			notReach, notNames = append(notReach, c), append(notNames, fp.Plan)
		}
	}
	t.Markdown(b)
	p("\n**Verdict.**\n\n")
	if bc.BaselineMatches {
		p("- The claim's \"15.45 GB\" is the 8B bf16 size, %s bytes, in the claim's unit (%.3f claim-GB). In real units it is %.3f GB = %.3f GiB: the quoted number is neither.\n",
			units.Commas(base), bc.BaselineClaimUnits, float64(base)/units.GB, float64(base)/units.GiB)
	} else {
		p("- The recorded 8B baseline, %s bytes, is %.3f claim-GB, not the quoted 15.45: the footprints may not be of Nemotron-H-8B; only the ratios compare.\n", units.Commas(base), bc.BaselineClaimUnits)
	}
	line := func(name string, c plan.ClaimCheck, what string) {
		p("- %s %s: %s bytes = %.3f GB = %.3f GiB = %.3f claim-GB; reduction %s.\n",
			code(name), what, units.Commas(c.Quantized), float64(c.Quantized)/units.GB, float64(c.Quantized)/units.GiB, c.QuantizedClaimUnits, units.Percent(c.Reduction))
	}
	for i, c := range asQuoted {
		line(quotedNames[i], c, "**reaches 58%** and is the quoted ~6.5 in the claim's unit")
	}
	for i, c := range notReach {
		line(notNames[i], c, "**does not reach 58%**")
	}
	for i, c := range reach {
		line(reachNames[i], c, "reaches 58% (at a size other than the quoted ~6.5)")
	}
	p("\n")
	switch {
	case len(asQuoted) > 0:
		c := asQuoted[0]
		p("So the claim holds only for %s, and only in its mixed unit: %s is %.3f claim-GB (\"~6.5 GB\") with a %s reduction (\"58%%\" after rounding), but %.3f → %.3f in GB and %.3f → %.3f in GiB.",
			codeList(quotedNames), code(quotedNames[0]), c.QuantizedClaimUnits, units.Percent(c.Reduction),
			float64(c.Baseline)/units.GB, float64(c.Quantized)/units.GB, float64(c.Baseline)/units.GiB, float64(c.Quantized)/units.GiB)
		if len(notReach) > 0 {
			p(" It does not hold for %s.", codeList(notNames))
		}
		p("\n\n")
	case len(reach) > 0:
		p("No recorded plan matches the quoted ~6.5; %s reach 58%% at other sizes, %s do not.\n\n", codeList(reachNames), orNone(codeList(notNames)))
	default:
		p("No recorded plan reaches 58%%.\n\n")
	}
}

// reproduce writes the command behind every number.
func reproduce(b *strings.Builder, d *data, dir string) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	rd := slash(dir)
	cfg := d.r.ConfigFile
	if cfg == "" {
		cfg = rd + "/experiment.yaml"
	}
	p("Commands run from the repository root. The whole experiment (every run, `results.json`, `plans/` and this report):\n\n")
	p("```bash\ngo run ./cmd/hyquant run %s\n```\n\n", shellQuote(cfg))
	if cfg != rd+"/experiment.yaml" {
		p("(`%s/experiment.yaml` is the copy of the config the runner kept.)\n\n", rd)
	}
	if len(d.all) > 0 {
		p("Each run's perplexity: quantise with the run's resolved plan (the runner writes one per run into `%s/plans/`), then evaluate with the experiment's protocol. The baseline is evaluated directly.\n\n", rd)
		p("```bash\n")
		evalFlags := fmt.Sprintf("--seq-len %d --max-windows %d", d.r.Eval.SeqLen, d.r.Eval.MaxWindows)
		if t := d.r.Eval.Text; t != "" && t != datasets.WikiText2Test {
			evalFlags = "--text " + shellQuote(t) + " " + evalFlags
		}
		modelFlag := ""
		if d.r.Model != "" && d.r.Model != models.Default {
			modelFlag = " --model " + shellQuote(d.r.Model)
		}
		for i, run := range d.all {
			if i > 0 {
				p("\n")
			}
			p("# %s: ppl %s, %s bytes\n", printable(run.Name), fmtPPL4(run.PPL), units.Commas(run.TotalBytes))
			if run.Kind == "baseline" {
				model := d.r.Model
				if model == "" {
					model = models.Default
				}
				p("go run ./cmd/hyquant eval --model %s %s\n", shellQuote(model), evalFlags)
				continue
			}
			if !plainFileName(run.Name) {
				p("# no command: the run name is not a plain file name (hyquant run never records one; results.json was edited)\n")
				continue
			}
			out := rd + "/models/" + run.Name
			p("go run ./cmd/hyquant quantize%s --plan %s --out %s\n", modelFlag, shellQuote(rd+"/plans/"+run.Name+".yaml"), shellQuote(out))
			p("go run ./cmd/hyquant eval --model %s %s\n", shellQuote(out), evalFlags)
		}
		p("```\n\n")
	}
	if fps := d.r.Footprints8B; len(fps) > 0 {
		p("Each 8B footprint (exact bytes from the config's shapes; the output ends with the 58%% check):\n\n```bash\n")
		shipped := map[string]bool{}
		for _, n := range plans.Names() {
			shipped[n] = true
		}
		runByPlan := map[string]*experiments.RunResult{}
		for _, run := range d.all {
			if run.Config.Plan != "" && runByPlan[run.Config.Plan] == nil {
				runByPlan[run.Config.Plan] = run
			}
		}
		for _, fp := range fps {
			ref, file := fp.Plan, fp.Plan
			switch {
			case runByPlan[fp.Plan] != nil:
				file = runByPlan[fp.Plan].Name
				ref = rd + "/plans/" + file + ".yaml"
			case shipped[fp.Plan]:
			default:
				ref = rd + "/plans/" + file + ".yaml"
			}
			if !plainFileName(file) {
				p("# %s: no command, the plan name is not a plain file name (results.json was edited)\n", printable(fp.Plan))
				continue
			}
			p("go run ./cmd/hyquant plan %s --plan %s   # %s bytes\n", model8B, shellQuote(ref), units.Commas(fp.Quantized))
		}
		p("```\n")
	}
}

func slash(p string) string { return filepath.ToSlash(filepath.Clean(p)) }

// shellQuote quotes a word for bash when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == ':' || r == '+' || r == '=' || r == ',' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func codeList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = code(n)
	}
	return strings.Join(q, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// hasKL reports whether any run carries KL statistics (eval.kl).
func hasKL(runs []*experiments.RunResult) bool {
	for _, r := range runs {
		if r.KLStats != nil {
			return true
		}
	}
	return false
}

// klCells are a run's mean KL, KL p99 and top-1 agreement, or dashes.
func klCells(r *experiments.RunResult) []any {
	if r.KLStats == nil {
		return []any{"—", "—", "—"}
	}
	return []any{fmt.Sprintf("%.5f", r.MeanKL), fmt.Sprintf("%.5f", r.KLP99), units.Percent(r.Top1Agreement)}
}

// fmtPPL4 writes a perplexity with four decimals for tables.
func fmtPPL4(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%.4f", v)
}

func fmtStat(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.3g", v)
}

// geoMeanError is the geometric mean of the positive errors of one layer
// kind, formatted ("—" when there are none).
func geoMeanError(errs []experiments.LayerError, kind string) string {
	var s float64
	n := 0
	for _, e := range errs {
		if e.LayerKind == kind && e.RelError > 0 && !math.IsInf(e.RelError, 0) {
			s += math.Log(e.RelError)
			n++
		}
	}
	if n == 0 {
		return "—"
	}
	return fmt.Sprintf("%.3g (%d %s)", math.Exp(s/float64(n)), n, plural(n, "layer", "layers"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
