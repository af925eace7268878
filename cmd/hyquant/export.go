package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyquant/hyquant/internal/progress"
	"github.com/hyquant/hyquant/internal/sysinfo"
	"github.com/hyquant/hyquant/internal/units"
	hqruntime "github.com/hyquant/hyquant/runtime"
)

type exportOptions struct {
	model, out, format, name string
	force, asJSON            bool
}

func newExportCmd() *cobra.Command {
	var o exportOptions
	cmd := &cobra.Command{
		Use:   "export --model <dir | embedded name> --out <file.gguf>",
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

The file is written streaming (bounded memory, also for the 8B) into a temporary
file that is renamed into place when complete; an existing --out is refused
without --force. Quantised GGUF exports (llama.cpp's formats as quantisation
targets, --plan) are not available yet.`,
		Example: `  hyquant export --out mini.bf16.gguf                   # the embedded mini
  hyquant export --model path/to/Nemotron-H-8B-Base-8K --out nemotron-h-8b.bf16.gguf`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runExport(cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model directory or embedded name (default nemotron-h-mini)")
	f.StringVar(&o.out, "out", "", "GGUF file to write (required)")
	f.StringVar(&o.format, "format", "gguf", "output format (gguf)")
	f.StringVar(&o.name, "name", "", "general.name (default: the model directory's name)")
	f.BoolVar(&o.force, "force", false, "replace an existing --out file")
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
	start := time.Now()
	if o.format != "gguf" {
		return fmt.Errorf("--format %q: only gguf is supported", o.format)
	}
	mf, err := hqruntime.ResolveModel(o.model)
	if err != nil {
		return err
	}
	switch {
	case mf.ConfigOnly:
		return fmt.Errorf("model %q is a config without weights (write synthetic weights with `hyquant synth`)", mf.Ref)
	case mf.GGUF != "":
		return fmt.Errorf("model %q is already a GGUF file", mf.Ref)
	}
	if st, err := os.Stat(o.out); err == nil {
		if st.IsDir() {
			return fmt.Errorf("--out %s is a directory; give a file name", o.out)
		}
		if !o.force {
			return fmt.Errorf("--out %s exists (use --force to replace it)", o.out)
		}
	}
	var ck *hqruntime.Checkpoint
	if mf.Embedded {
		ck, err = mf.OpenCheckpoint()
	} else {
		ck, err = hqruntime.OpenCheckpointStream(mf.Dir) // pread: the resident set stays small
	}
	if err != nil {
		return err
	}
	defer ck.Close()
	bar := progress.New(100, "export", o.asJSON)
	sum, err := hqruntime.ExportGGUF(o.out, mf, ck, hqruntime.GGUFExportOptions{Name: o.name,
		Progress: func(done, total int64) { bar.Set(int(done*100/max(total, 1)), "export") }})
	bar.Finish()
	if err != nil {
		return err
	}
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
