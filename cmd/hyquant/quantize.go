package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/internal/limits"
	"github.com/hyquant/hyquant/internal/outdir"
	"github.com/hyquant/hyquant/internal/progress"
	"github.com/hyquant/hyquant/internal/sysinfo"
	"github.com/hyquant/hyquant/internal/units"
	"github.com/hyquant/hyquant/plans"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/calib"
	"github.com/hyquant/hyquant/quant/ckpt"
	"github.com/hyquant/hyquant/quant/plan"
	hqruntime "github.com/hyquant/hyquant/runtime"
)

type quantizeOptions struct {
	model, planRef, out string
	calibOptions
	force, asJSON bool
	shardGB       float64

	ctx   context.Context // cancelled on interrupt (nil: never)
	notes io.Writer       // notes beside the output (nil: discarded)
}

// calibOptions are the calibration flags of the commands that quantise
// (quantize, export --plan).
type calibOptions struct {
	calib, imatrix   string
	segments, length int
	seed             int64
	device           string
}

// check validates the calibration flags by the rules of the experiment
// config's calibration fields.
func (c calibOptions) check() error {
	if err := limits.Segments.Flag("segments", c.segments); err != nil {
		return err
	}
	if err := checkDevice(c.device); err != nil {
		return err
	}
	return limits.Length.Flag("length", c.length)
}

func addCalibFlags(f *pflag.FlagSet, c *calibOptions) {
	f.StringVar(&c.calib, "calib", eval.DefaultCalibration.Text, "calibration text: embedded name or file (never the evaluation split)")
	f.StringVar(&c.imatrix, "imatrix", "", "llama.cpp importance-matrix GGUF for method ggml with imatrix: true (instead of hyquant's calibration)")
	f.IntVar(&c.segments, "segments", eval.DefaultCalibration.Segments, "calibration segments")
	f.IntVar(&c.length, "length", eval.DefaultCalibration.Length, "tokens per calibration segment")
	f.Int64Var(&c.seed, "seed", eval.DefaultCalibration.Seed, "calibration sampling seed")
	f.StringVar(&c.device, "device", "cpu", "where the calibrated pass runs: cpu, or cuda (the first NVIDIA GPU: the blocks' forward passes and the input statistics (XᵀX) there in fp32, GPTQ's Cholesky inverse and weight updates there in fp64, the per-column rounding on the host)")
}

func newQuantizeCmd() *cobra.Command {
	var o quantizeOptions
	cmd := &cobra.Command{
		Use:   "quantize --plan <plan.yaml | shipped name> --out <dir>",
		Short: "Quantise a model under a plan and write a packed checkpoint that 'hyquant eval' runs",
		Long: `quantize resolves the plan against the model, quantises every tensor the plan
names with its method (` + strings.Join(quant.MethodNames(), ", ") + `), and writes a directory
with config.json, tokenizer.json, safetensors holding the packed codes, scales,
zero points and transforms, and ` + ckpt.ManifestFile + ` describing each tensor.
The tensor bytes written equal 'hyquant plan' for the same plan, exactly.

Methods that need calibration (gptq; mambaquant with KLT, smoothing or GPTQ
rounding; static activation scales) run the model over --segments windows of
--length tokens sampled (seeded) from --calib, one block at a time, so each
layer is calibrated on the outputs of the already-quantised layers before it.

When no tensor needs calibration (rtn, channel8), quantize streams: each tensor
is read, quantised a block of rows at a time and written, so an 8B checkpoint
is quantised in a few GB of memory.`,
		Example: `  hyquant quantize --plan seed --out out/mini-seed
  hyquant quantize --model /data/Nemotron-H-8B-Base-8K --plan seed-emb8 --out out/8b-seed-emb8
  hyquant quantize --plan my-gptq.yaml --calib wikitext103-valid --segments 64 --out out/mini-gptq`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := interruptible()
			defer stop()
			o.ctx, o.notes = ctx, cmd.ErrOrStderr()
			return runQuantize(cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model directory or embedded name (default nemotron-h-mini)")
	f.StringVar(&o.planRef, "plan", "", "plan YAML file or shipped plan ("+strings.Join(plans.Names(), ", ")+") (required)")
	f.StringVar(&o.out, "out", "", "output directory (required)")
	addCalibFlags(f, &o.calibOptions)
	f.Float64Var(&o.shardGB, "shard-gb", 5, "target shard size in GB (10^9 bytes)")
	f.BoolVar(&o.force, "force", false, "replace an existing output directory (never a file, never the source model or a directory holding it)")
	f.BoolVar(&o.asJSON, "json", false, "write JSON instead of text")
	cmd.MarkFlagRequired("plan")
	cmd.MarkFlagRequired("out")
	return cmd
}

type quantizeJSON struct {
	Model          string  `json:"model"`
	Plan           string  `json:"plan"`
	Out            string  `json:"out"`
	BaselineBytes  int64   `json:"baseline_bytes"`
	TensorBytes    int64   `json:"tensor_bytes"`
	PlannedBytes   int64   `json:"planned_bytes"`
	DirectoryBytes int64   `json:"directory_bytes"`
	Reduction      float64 `json:"reduction"`
	Shards         int     `json:"shards"`
	Seconds        float64 `json:"seconds"`
	PeakRSS        int64   `json:"peak_rss_bytes"`
	Streamed       bool    `json:"streamed"`
}

// defaults fills in the context and notes writer of options built in code.
func (o *quantizeOptions) defaults() {
	if o.ctx == nil {
		o.ctx = context.Background()
	}
	if o.notes == nil {
		o.notes = io.Discard
	}
}

// checkQuantize validates the flags and the output before any work.
func checkQuantize(o quantizeOptions, mf *hqruntime.ModelFiles) error {
	if err := o.calibOptions.check(); err != nil {
		return err
	}
	if err := limits.ShardGB.Flag("shard-gb", o.shardGB); err != nil {
		return err
	}
	if mf.ConfigOnly {
		return fmt.Errorf("model %q is a config without weights (write synthetic weights with `hyquant synth`)", mf.Ref)
	}
	if err := outdir.CheckDir(o.out, o.force, mf.Sources()...); err != nil {
		return err
	}
	noteLeftovers(o.notes, o.out)
	return nil
}

func runQuantize(w io.Writer, o quantizeOptions) error {
	err := quantize(w, o)
	return interrupted(err, o.out)
}

func quantize(w io.Writer, o quantizeOptions) error {
	start := time.Now()
	o.defaults()
	mf, err := hqruntime.ResolveModel(o.model)
	if err != nil {
		return err
	}
	if err := checkQuantize(o, mf); err != nil {
		return err
	}
	runner, closeDevice, err := calibRunner(o.device)
	if err != nil {
		return err
	}
	defer closeDevice()
	p, err := plans.Load(o.planRef)
	if err != nil {
		return err
	}
	inv := hqruntime.BuildInventory(mf.Config)
	var r *plan.Resolved
	var results map[string]*quant.Quantized
	var actScales map[string]float32
	var src *hqruntime.Checkpoint
	streamed := false

	// Resolve once against the stored dtypes to know whether calibration is needed.
	probe, err := mf.OpenCheckpoint()
	if err != nil {
		return err
	}
	if err := inv.CheckAgainst(probe); err != nil {
		probe.Close()
		return err
	}
	if probe, err = p.Rotate(probe, mf.Config); err != nil {
		return err
	}
	dt, _ := mf.StoredDTypes(probe)
	if r, err = p.Resolve(inv, dt); err != nil {
		probe.Close()
		return err
	}
	if o.imatrix != "" {
		w, err := hqruntime.ReadImatrix(o.imatrix)
		if err == nil {
			err = r.UseImatrix(w, o.imatrix)
		}
		if err != nil {
			probe.Close()
			return err
		}
	}
	if r.NeedsCalibration() {
		src = probe
		defer src.Close()
		// On the GPU the host model is never run: keep its weights mapped
		// (bf16 as stored) rather than a float32 copy (32 GB for the 8B).
		mode := hqruntime.WeightsFloat32
		if runner != nil {
			mode = hqruntime.WeightsMapped
		}
		l, err := hqruntime.OpenModel(o.model, mode)
		if err != nil {
			return err
		}
		defer l.Close()
		segs, err := eval.CalibrationSegments(l.Tokenizer, eval.CalibrationConfig{Text: o.calib, Segments: o.segments, Length: o.length, Seed: o.seed})
		if err != nil {
			return err
		}
		if !o.asJSON {
			where := "the CPU"
			if runner != nil {
				where = "the GPU (blocks, XᵀX and GPTQ's large products there, the rounding on the host)"
			}
			fmt.Fprintf(w, "Calibrating on %d segments of %d tokens of %s (seed %d) on %s\n", o.segments, o.length, o.calib, o.seed, where)
		}
		bar := progress.New(r.QuantizedCount(), "quantise", o.asJSON)
		float := l.Weights
		if p.Rotation != nil {
			float = hqruntime.NewCheckpointWeights(src, inv, hqruntime.WeightsFloat32)
		}
		applied, err := calib.Apply(mf.Config, float, r, calib.ApplyOptions{Segments: segs, Context: o.ctx, Runner: runner, Progress: func(done, total int, name string) { bar.Set(done, "quantise") }})
		bar.Finish()
		if err != nil {
			return err
		}
		results, actScales = applied.Weights.Results, applied.Weights.ActScales
	} else {
		// Stream: read tensors with pread so the resident set stays small.
		probe.Close()
		src, err = mf.OpenCheckpointStream()
		if err == nil {
			src, err = p.Rotate(src, mf.Config)
		}
		if err != nil {
			return err
		}
		defer src.Close()
		streamed = true
	}
	f := r.Footprint()
	bar := progress.New(int(f.Quantized/1e6), "write MB", o.asJSON)
	sum, err := ckpt.WriteCheckpoint(o.out, mf, src, r, results, actScales, ckpt.WriteOptions{ShardBytes: int64(o.shardGB * 1e9), Force: o.force, Context: o.ctx,
		Progress: func(done, total int64) { bar.Set(int(done/1e6), "write MB") }})
	bar.Finish()
	if err != nil {
		return err
	}
	out := quantizeJSON{Model: mf.Describe(), Plan: p.Name, Out: sum.Dir, BaselineBytes: f.Baseline, TensorBytes: sum.TensorBytes, PlannedBytes: f.Quantized,
		DirectoryBytes: sum.FileBytes, Reduction: f.Reduction(), Shards: sum.Shards, Seconds: time.Since(start).Seconds(), PeakRSS: sysinfo.PeakRSS(), Streamed: streamed}
	if sum.TensorBytes != f.Quantized {
		return fmt.Errorf("internal error: wrote %d tensor bytes but the plan predicts %d", sum.TensorBytes, f.Quantized)
	}
	if o.asJSON {
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "Quantised %s with plan %s into %s (%d shard(s))\n", out.Model, out.Plan, out.Out, out.Shards)
	fmt.Fprintf(w, "  original tensors:  %s bytes = %s\n", units.Commas(out.BaselineBytes), units.Both(out.BaselineBytes))
	fmt.Fprintf(w, "  quantised tensors: %s bytes = %s (equal to 'hyquant plan')\n", units.Commas(out.TensorBytes), units.Both(out.TensorBytes))
	fmt.Fprintf(w, "  directory on disk: %s bytes = %s (with headers, config, tokenizer, manifest)\n", units.Commas(out.DirectoryBytes), units.Both(out.DirectoryBytes))
	fmt.Fprintf(w, "  reduction %s; %.1f s; peak memory %s\n", units.Percent(out.Reduction), out.Seconds, units.Both(out.PeakRSS))
	return nil
}
