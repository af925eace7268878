package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyquant/hyquant/internal/limits"
	"github.com/hyquant/hyquant/internal/outdir"
	"github.com/hyquant/hyquant/internal/progress"
	"github.com/hyquant/hyquant/internal/sysinfo"
	"github.com/hyquant/hyquant/internal/units"
	"github.com/hyquant/hyquant/models"
	hqruntime "github.com/hyquant/hyquant/runtime"
)

func newSynthCmd() *cobra.Command {
	var configRef, out string
	var seed uint64
	var shardGB float64
	cmd := &cobra.Command{
		Use:   "synth --config <config.json | embedded name> --out <dir>",
		Short: "Write a synthetic checkpoint with the exact Hub layout of a config (e.g. the 8B)",
		Long: `synth writes a checkpoint in the Hugging Face layout for a NemotronH config:
bf16 safetensors shards of about --shard-gb GB each, model.safetensors.index.json,
config.json, and a stand-in tokenizer.json (the mini model's byte-level BPE,
whose ids fit any larger vocabulary; a real checkpoint brings its own).

Weights are drawn with realistic scales (projections and embeddings N(0, 0.02),
conv kernels U(±1/sqrt(k)), A_log = log U(1, 16), D ≈ 1, dt_bias from a
log-uniform dt in [0.001, 0.1], norms ≈ 1), generated and streamed to disk in
chunks: the whole model is never in memory. The same --seed gives the same bytes.

The result lets every 8B command (inspect, plan, quantize, eval, bench) be
tried on a small machine without the real 16 GB download.`,
		Example: `  hyquant synth --config models/nemotron-h-8b-base-8k/config.json --out /tmp/nemotron-h-8b-synth
  hyquant synth --config nemotron-h-mini --out /tmp/mini-synth --seed 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := interruptible()
			defer stop()
			return runSynth(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), configRef, out, seed, shardGB)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configRef, "config", "", "config.json path, model directory or embedded model name (required)")
	f.StringVar(&out, "out", "", "output directory (required)")
	f.Uint64Var(&seed, "seed", 0, "random seed")
	f.Float64Var(&shardGB, "shard-gb", 5, "target shard size in GB (10^9 bytes)")
	cmd.MarkFlagRequired("config")
	cmd.MarkFlagRequired("out")
	return cmd
}

func runSynth(ctx context.Context, w, notes io.Writer, configRef, out string, seed uint64, shardGB float64) error {
	if err := limits.ShardGB.Flag("shard-gb", shardGB); err != nil {
		return err
	}
	mf, err := hqruntime.ResolveModel(configRef)
	if err != nil {
		return err
	}
	cfgBytes, err := readConfigBytes(mf)
	if err != nil {
		return err
	}
	if err := outdir.CheckDir(out, false, mf.Sources()...); err != nil {
		return err
	}
	noteLeftovers(notes, out)
	tok, err := fs.ReadFile(models.FS(), models.Default+"/tokenizer.json")
	if err != nil {
		return err
	}
	inv := hqruntime.BuildInventory(mf.Config)
	total := inv.TotalParams() * 2
	fmt.Fprintf(w, "Writing a synthetic %s-parameter checkpoint to %s: %s of bf16\n", units.Commas(inv.TotalParams()), out, units.Both(total))
	bar := progress.New(int(total/1e6), "synth MB", false)
	start := time.Now()
	err = hqruntime.WriteSynthetic(mf.Config, cfgBytes, out, hqruntime.SynthOptions{Seed: seed, ShardBytes: int64(shardGB * 1e9),
		Files: map[string][]byte{"tokenizer.json": tok}, Context: ctx,
		Progress: func(done, total int64) {
			bar.Set(int(done/1e6), fmt.Sprintf("synth %.0f MB/s", float64(done)/1e6/time.Since(start).Seconds()))
		}})
	bar.Finish()
	if err != nil {
		return interrupted(err, out)
	}
	shards, _ := filepath.Glob(filepath.Join(out, "*.safetensors"))
	secs := time.Since(start).Seconds()
	fmt.Fprintf(w, "Wrote %d shard(s), %s bytes, in %.1f s (%.0f MB/s); peak memory %s\n", len(shards), units.Commas(total), secs, float64(total)/1e6/secs, units.Both(sysinfo.PeakRSS()))
	fmt.Fprintf(w, "tokenizer.json is the mini model's (a stand-in: synthetic weights have no tokenizer of their own)\n")
	return nil
}

// readConfigBytes returns the config file's bytes as written.
func readConfigBytes(mf *hqruntime.ModelFiles) ([]byte, error) {
	if mf.Embedded {
		return fs.ReadFile(models.FS(), mf.Dir+"/config.json")
	}
	if mf.ConfigOnly {
		return os.ReadFile(mf.Ref)
	}
	return os.ReadFile(filepath.Join(mf.Dir, "config.json"))
}
