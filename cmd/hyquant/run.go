package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
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
	var shard, device string
	var staleAfter time.Duration
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

Each finished run is written atomically to its own record, runs/<run>.json,
and results.json is assembled from the records (in config order) after every
run. Running the same config again skips every run whose record has this
configuration hash, so an interrupted experiment resumes where it stopped
(Ctrl-C loses at most the run in progress); --force recomputes everything. The
same config and seed give the same numbers.

The directory holds one experiment identity (model and its digest, evaluation
text and its digest, seq_len, windows, calibration, protocol version; kept in
manifest.json): a config with another identity is refused, naming the fields
that differ, and --force replaces all of the directory's results.

--shard i/n (1 <= i <= n) computes only the runs at positions p with
p mod n == i-1 (position 0 is the baseline, then the config's runs in order).
Any number of processes, on one machine or many sharing the directory, may
work on one experiment with the same config: each run is claimed first
(claims/<run>/, a heartbeat every --claim-timeout/10; a claim older than
--claim-timeout is taken over), so each run is computed once. A shard worker
ends when every run of its share is recorded; the last one writes the report,
and 'hyquant report <dir>' merges the records at any time.`,
		Example: `  hyquant run experiments/mini-quickstart.yaml
  hyquant run experiments/mini-full.yaml --force
  hyquant run experiments/nemotron-h-8b.yaml --shard 2/3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := experiments.Options{Force: force, Quiet: quiet, Log: cmd.OutOrStdout(), StaleAfter: staleAfter}
			if shard != "" {
				s, err := experiments.ParseShard(shard)
				if err != nil {
					return err
				}
				o.Shard = s
			}
			if staleAfter < time.Second {
				return fmt.Errorf("--claim-timeout %v: want at least 1s", staleAfter)
			}
			if err := checkDevice(device); err != nil {
				return err
			}
			dev, err := openDevice(device) // before anything is loaded
			if err != nil {
				return err
			}
			if dev != nil {
				defer dev.Close()
				o.Device = cudaDevice{dev}
			}
			return runExperiment(cmd.OutOrStdout(), args[0], o)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "recompute runs already recorded; replace the results of another identity (not with --shard)")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress bars")
	cmd.Flags().StringVar(&shard, "shard", "", "compute only shard i of n (i/n, numbered from 1) of the runs, beside other processes")
	cmd.Flags().StringVar(&device, "device", "cpu", "where calibrated passes and evaluations run: cpu, or cuda (the first NVIDIA GPU, fp32 products; recorded with each run and part of its hash, so CPU and GPU records are never mixed)")
	cmd.Flags().DurationVar(&staleAfter, "claim-timeout", experiments.DefaultStaleAfter, "take over another process's run claim whose heartbeat is older than this")
	return cmd
}

func runExperiment(w io.Writer, path string, o experiments.Options) error {
	cfg, err := experiments.Load(path)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	share := ""
	if o.Shard.Sharded() {
		share = ", shard " + o.Shard.String()
	}
	fmt.Fprintf(w, "Experiment %s: %d runs + baseline%s -> %s\n", cfg.Name, len(cfg.Runs), share, cfg.Output)
	res, err := experiments.Execute(ctx, cfg, o)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("interrupted: finished runs are saved in %s; run the same command again to resume", cfg.Output)
		}
		return err
	}
	if len(res.Pending) > 0 {
		fmt.Fprintf(w, "\nShard %s done; %d run(s) of other shards pending. When every shard is done: hyquant report %s\n", o.Shard, len(res.Pending), cfg.Output)
		return nil
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
		Short: "Merge a results directory's run records into results.json, then write its figures and report.md",
		Long: `report merges the run records of <results dir> (runs/<run>.json, written by
'hyquant run', with or without --shard) into results.json, in config order and
of the directory's identity only, then writes the figures (perplexity vs
memory with the Pareto frontier, per-category sensitivity, per-layer error,
weight outlier statistics, memory breakdown for the model and the 8B config)
and report.md. It never recomputes a number: everything comes from the
records (or, for a directory written before records existed, results.json).
Runs not recorded yet are named; the report shows the rest.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := experiments.Assemble(args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if len(res.Pending) > 0 {
				fmt.Fprintf(w, "%d run(s) not recorded yet (shards still at work, or interrupted): %s\n", len(res.Pending), strings.Join(res.Pending, ", "))
			}
			written, err := reports.Write(args[0], res)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "Merged %d run record(s) into %s; wrote %s and %d figure(s)\n", len(res.Runs), filepath.Join(args[0], experiments.ResultsFile), written.Report, len(written.Figures))
			return nil
		},
	}
}
