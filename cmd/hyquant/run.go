package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyquant/hyquant/experiments"
	"github.com/hyquant/hyquant/internal/table"
	"github.com/hyquant/hyquant/internal/units"
	"github.com/hyquant/hyquant/reports"
)

func newRunCmd() *cobra.Command {
	var force, quiet bool
	cmd := &cobra.Command{
		Use:   "run <experiment.yaml>",
		Short: "Run an experiment: baseline and every plan, resumable; writes results.json, figures and report.md",
		Long: `run evaluates the baseline and every run of an experiment config (explicit plans,
method x bit-width sweeps, per-category sensitivity), then writes the report.

Into the experiment's output directory go: results.json (per run: the resolved
config and its hash, bytes per category, total bytes, reduction, ppl, delta ppl,
wall time, per-layer relative output error on calibration data), a copy of the
config (experiment.yaml), each run's exact plan (plans/<run>.yaml), the figures
and report.md.

results.json is rewritten atomically after every finished run. Running the
same config again skips every run whose configuration hash is already there,
so an interrupted experiment resumes where it stopped (Ctrl-C loses at most the
run in progress); --force recomputes everything. The same config and seed give
the same numbers.`,
		Example: `  hyquant run experiments/mini-quickstart.yaml
  hyquant run experiments/mini-full.yaml --force`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExperiment(cmd.OutOrStdout(), args[0], force, quiet)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "recompute runs that results.json already holds")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress bars")
	return cmd
}

func runExperiment(w io.Writer, path string, force, quiet bool) error {
	cfg, err := experiments.Load(path)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	fmt.Fprintf(w, "Experiment %s: %d runs + baseline -> %s\n", cfg.Name, len(cfg.Runs), cfg.Output)
	res, err := experiments.Execute(ctx, cfg, experiments.Options{Force: force, Quiet: quiet, Log: w})
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted: finished runs are saved in %s; run the same command again to resume", cfg.Output)
		}
		return err
	}
	written, err := reports.Write(cfg.Output, res)
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	printRunTable(w, res)
	fmt.Fprintf(w, "\nWrote %s and %d figure(s) and %s in %.1f s\n", cfg.Output+"/"+experiments.ResultsFile, len(written.Figures), written.Report, time.Since(start).Seconds())
	for _, f := range written.Figures {
		fmt.Fprintf(w, "  %s\n", f.Path)
	}
	return nil
}

func printRunTable(w io.Writer, res *experiments.Results) {
	t := table.New("run", "kind", "bytes", "MB", "reduction", "ppl", "Δ ppl", "wall s")
	for _, r := range res.Runs {
		t.Row(r.Name, r.Kind, units.Commas(r.TotalBytes), fmt.Sprintf("%.3f", float64(r.TotalBytes)/1e6), units.Percent(r.Reduction),
			fmt.Sprintf("%.4f", r.PPL), fmt.Sprintf("%+.4f", r.DeltaPPL), fmt.Sprintf("%.1f", r.WallSeconds))
	}
	t.Render(w)
}

func newReportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report <results dir>",
		Short: "Write the figures and report.md of a results directory (also done at the end of 'run')",
		Long: `report reads <results dir>/results.json and writes the figures (perplexity vs
memory with the Pareto frontier, per-category sensitivity, per-layer error,
weight outlier statistics, memory breakdown for the model and the 8B config)
and report.md. It never recomputes a number: everything comes from results.json.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := experiments.ReadResults(args[0])
			if err != nil {
				return err
			}
			written, err := reports.Write(args[0], res)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Wrote %s and %d figure(s)\n", written.Report, len(written.Figures))
			return nil
		},
	}
}
