package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyquant/hyquant/internal/outdir"
	"github.com/hyquant/hyquant/internal/progress"
	"github.com/hyquant/hyquant/internal/sysinfo"
	"github.com/hyquant/hyquant/internal/units"
	"github.com/hyquant/hyquant/quant/ckpt"
	hqruntime "github.com/hyquant/hyquant/runtime"
)

type exportOptions struct {
	model, out, format, name, planRef string
	calibOptions                      // for --plan
	force, asJSON                     bool

	ctx   context.Context // cancelled on interrupt (nil: never)
	notes io.Writer       // notes beside the output (nil: discarded)
}

func newExportCmd() *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export --model <dir | embedded name> [--plan P] --out <file.gguf>",
		Short: "Write a model as a GGUF file that llama.cpp runs (nemotron_h)",
		Long: `export writes a float Hugging Face checkpoint (bf16, f16 or f32) as a nemotron_h
GGUF the way llama.cpp's converter does: the architecture keys and per-layer
arrays, the tokenizer, matrices and embeddings in their stored type (q and k rows
in llama's rope permutation), A as -exp(A_log), and conv1d, norms, D, dt_bias in
F32, conv1d as [K, C] and the gated norm as [groups, C/groups].

It reads config.json as written. llama.cpp's converter reads it through
transformers' AutoConfig, which under transformers 5.x adds MoE defaults to
every NemotronH config and so writes a dense model as nemotron_h_moe with
all-zero per-layer arrays, a file llama.cpp cannot run as intended; this export
is the dependable way from a Hub checkpoint to GGUF. For the mini, every tensor
equals the bytes of the converter's (fixed) output.

With --plan, the model is first quantised under the plan (as 'hyquant quantize'
does, into a temporary directory beside --out), then written: every tensor must
be in a GGUF type, i.e. kept as a float or quantised with method ggml (llama.cpp's
block types with llama-quantize's rounding; the shipped plans llama-q8_0 ...
llama-q2_k are llama-quantize's recipes). A plan with anything GGUF cannot
express (hyquant's group format, an online rotation, activation quantisation) is
refused, naming every such tensor and why. --model may also be a directory
'hyquant quantize' wrote under such a plan.

The file is written streaming (bounded memory, also for the 8B) into a temporary
file that is renamed into place when complete; an existing --out is refused
without --force.`,
		Example: `  hyquant export --out mini.bf16.gguf                   # the embedded mini
  hyquant export --plan llama-q4_k_m --out mini.Q4_K_M.gguf  # llama-quantize's Q4_K_M, by hyquant
  hyquant export --model out/mini-q4km --out mini.Q4_K_M.gguf  # a checkpoint quantised with method ggml
  hyquant export --model path/to/Nemotron-H-8B-Base-8K --out nemotron-h-8b.bf16.gguf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := interruptible()
			defer stop()
			o.ctx, o.notes = ctx, cmd.ErrOrStderr()
			return runExport(cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model directory or embedded name (default nemotron-h-mini)")
	f.StringVar(&o.out, "out", "", "GGUF file to write (required)")
	f.StringVar(&o.format, "format", "gguf", "output format (gguf)")
	f.StringVar(&o.name, "name", "", "general.name (default: the model directory's name)")
	f.BoolVar(&o.force, "force", false, "replace an existing --out file")
	f.StringVar(&o.planRef, "plan", "", "quantise under this plan first (file or shipped name); its tensors must all be GGUF types")
	addCalibFlags(f, &o.calibOptions)
	f.BoolVar(&o.asJSON, "json", false, "write JSON instead of text")
	cmd.MarkFlagRequired("out")
	return cmd
}

type exportJSON struct {
	Model       string  `json:"model"`
	Out         string  `json:"out"`
	Tensors     int     `json:"tensors"`
	TensorBytes int64   `json:"tensor_bytes"`
	FileBytes   int64   `json:"file_bytes"`
	FileType    uint32  `json:"file_type"`
	Seconds     float64 `json:"seconds"`
	PeakRSS     int64   `json:"peak_rss_bytes"`
}

func runExport(w io.Writer, o exportOptions) error {
	if o.ctx == nil {
		o.ctx = context.Background()
	}
	if o.notes == nil {
		o.notes = io.Discard
	}
	return interrupted(export(w, o), o.out)
}

// checkExport validates the flags, the model and the output before any work.
func checkExport(o exportOptions, mf *hqruntime.ModelFiles) error {
	if err := o.calibOptions.check(); err != nil {
		return err
	}
	switch {
	case mf.ConfigOnly:
		return fmt.Errorf("model %q is a config without weights (write synthetic weights with `hyquant synth`)", mf.Ref)
	case mf.GGUF != "" && o.planRef == "":
		return fmt.Errorf("model %q is already a GGUF file (give --plan to quantise it into another one)", mf.Ref)
	}
	if err := outdir.CheckFile(o.out, o.force, mf.Sources()...); err != nil {
		return err
	}
	noteLeftovers(o.notes, o.out)
	return nil
}

func export(w io.Writer, o exportOptions) error {
	start := time.Now()
	if o.format != "gguf" {
		return fmt.Errorf("--format %q: only gguf is supported", o.format)
	}
	mf, err := hqruntime.ResolveModel(o.model)
	if err != nil {
		return err
	}
	if err := checkExport(o, mf); err != nil {
		return err
	}
	bar := progress.New(100, "export", o.asJSON)
	opts := hqruntime.GGUFExportOptions{Name: o.name, Context: o.ctx, Progress: func(done, total int64) { bar.Set(int(done*100/max(total, 1)), "export") }}
	var sum *hqruntime.GGUFExportSummary
	switch {
	case o.planRef != "":
		sum, err = exportPlan(w, mf, o, opts)
	case isPacked(mf):
		sum, err = ckpt.ExportGGUF(o.out, mf, opts)
	default:
		sum, err = exportFloat(mf, o, opts)
	}
	bar.Finish()
	if err != nil {
		return err
	}
	return printExport(w, mf, o, sum, start)
}

func isPacked(mf *hqruntime.ModelFiles) bool {
	if mf.Embedded {
		return false
	}
	_, err := os.Stat(filepath.Join(mf.Dir, ckpt.ManifestFile))
	return err == nil
}

// exportPlan quantises under the plan into a temporary directory beside
// the output, exports that, and removes it.
func exportPlan(w io.Writer, mf *hqruntime.ModelFiles, o exportOptions, opts hqruntime.GGUFExportOptions) (*hqruntime.GGUFExportSummary, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(o.out), "."+filepath.Base(o.out)+".quant-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	qdir := filepath.Join(tmp, "q")
	q := quantizeOptions{model: o.model, planRef: o.planRef, out: qdir, calibOptions: o.calibOptions, asJSON: true, shardGB: 5, ctx: o.ctx}
	if err := quantize(io.Discard, q); err != nil {
		return nil, err
	}
	qf, err := hqruntime.ResolveModel(qdir)
	if err != nil {
		return nil, err
	}
	if opts.Name == "" {
		opts.Name = exportName(mf)
	}
	return ckpt.ExportGGUF(o.out, qf, opts)
}

// exportName is the general.name of an export: the source model's name.
func exportName(mf *hqruntime.ModelFiles) string {
	if mf.Embedded {
		return mf.Ref
	}
	if mf.GGUF != "" {
		return strings.TrimSuffix(filepath.Base(mf.GGUF), filepath.Ext(mf.GGUF))
	}
	return filepath.Base(filepath.Clean(mf.Dir))
}

func exportFloat(mf *hqruntime.ModelFiles, o exportOptions, opts hqruntime.GGUFExportOptions) (*hqruntime.GGUFExportSummary, error) {
	ck, err := mf.OpenCheckpointStream() // pread: the resident set stays small
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	return hqruntime.ExportGGUF(o.out, mf, ck, opts)
}

func printExport(w io.Writer, mf *hqruntime.ModelFiles, o exportOptions, sum *hqruntime.GGUFExportSummary, start time.Time) error {
	st, err := os.Stat(o.out)
	if err != nil {
		return err
	}
	out := exportJSON{Model: mf.Describe(), Out: o.out, Tensors: sum.Tensors, TensorBytes: sum.TensorBytes, FileBytes: st.Size(),
		FileType: sum.FileType, Seconds: time.Since(start).Seconds(), PeakRSS: sysinfo.PeakRSS()}
	if o.asJSON {
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "Exported %s to %s (GGUF v3, nemotron_h, file type %d)\n", out.Model, out.Out, out.FileType)
	fmt.Fprintf(w, "  %d tensors, %s bytes of tensor data = %s\n", out.Tensors, units.Commas(out.TensorBytes), units.Both(out.TensorBytes))
	fmt.Fprintf(w, "  file %s bytes; %.1f s; peak memory %s\n", units.Commas(out.FileBytes), out.Seconds, units.Both(out.PeakRSS))
	return nil
}
