package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/internal/limits"
	"github.com/hyquant/hyquant/internal/progress"
	"github.com/hyquant/hyquant/internal/sysinfo"
	"github.com/hyquant/hyquant/internal/units"
	"github.com/hyquant/hyquant/kernels/cuda"
	hqruntime "github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/gpu"
)

type evalOptions struct {
	model      string
	text       string
	protocol   string
	seqLen     int
	maxWindows int
	threads    int
	weights    string
	baseline   string
	asJSON     bool
	device     string
	cudaMath   string
}

func newEvalCmd() *cobra.Command {
	var o evalOptions
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "WikiText-2 perplexity of a model (float or quantised) with hyquant's own runtime",
		Long: `eval runs the model over a text and reports its perplexity under the reference
protocol: every line of the WikiText-2 raw test file (with its newline) is a
row, whitespace-only rows become empty, rows are joined with "\n\n", the text
is tokenised without BOS and cut into non-overlapping windows of --seq-len
tokens (the tail is dropped); ppl = exp(mean over windows of each window's mean
next-token loss over its seq_len-1 targets).

The WikiText-2 test split is embedded in the binary, as is the default model
(nemotron-h-mini), so 'hyquant eval' with no arguments works anywhere. For the
mini, the reference perplexity is 157.4956 at seq_len 1024 (371 windows) and
159.9367 at seq_len 512 (742 windows).

--model takes a Hugging Face directory, a checkpoint written by 'hyquant
quantize', or a llama.cpp GGUF file (nemotron_h): GGUF tensors are computed on
their packed blocks (Q8_0 ... Q2_K, IQ4_XS, IQ2_XXS ...), the tokenizer comes
from tokenizer.json beside the file or else from the file's metadata. So
llama.cpp's quantized files are scored under the same protocol as hyquant's
own (llama.cpp's llama-perplexity uses another: raw file, BOS, second-half
scoring; its numbers do not compare with these).

--text takes another file (or an embedded text: ` + strings.Join(datasets.Names(), ", ") + `).
Files are read as plain text; --protocol wikitext applies the row joining.

--baseline M0 compares the model with a baseline model (usually the
unquantised one; loaded with the same --weights, and it must tokenise the text
the same way) on the same windows. At every position the protocol scores
(positions 0..seq_len-2 of each window, each predicting the next token:
seq_len-1 positions per window) both models' logits become log-probabilities
(log-softmax, in float64) and are compared:

  KL           = sum over the vocabulary of p_base(v)*(log p_base(v) - log p_model(v)),
                 in nats: KL(P_base || P_model), the direction of llama.cpp's
                 llama-perplexity --kl-divergence (whose base is the unquantised model)
  mean KL      = the mean over positions, +- sqrt((E[KL^2] - E[KL]^2)/(n-1)) (0 for n <= 10)
  percentiles  = of the sorted per-position KL, interpolated linearly at
                 fraction*(n-1): median (the mean of the two middle values for
                 an even n), 90%, 99%, 99.9%, and the maximum
  top-1 agree  = the share of positions where both models' most likely token
                 is the same (ties go to the lowest token id), +- sqrt(p(1-p)/(n-1))
  ppl, ppl_base, delta ppl = ppl - ppl_base, ratio = ppl / ppl_base: each
                 perplexity under the protocol above, equal to plain eval's

llama.cpp scores only the second half of each chunk (after a BOS; it stores
the base log-probabilities in 16 bits and leaves vocabulary entries with
log p_base <= -16 out of the sum); hyquant scores all seq_len-1 targets of
each window, without either approximation, so the numbers are comparable in
definition, not in positions.

--device cuda runs the forward passes (and with --baseline both models and the
comparison) on the first NVIDIA GPU, loaded at run time (no cgo; without a
usable GPU it fails at once, naming what is missing). Packed formats stay
packed there (hyquant's codes, Q8_0, Q4_K, Q5_K, Q6_K; others are dequantised
on the host) and are dequantised for each product; activation quantisation
(act_bits) is refused there. --cuda-math picks the products: fp32 (the
default, the parity mode: the mini's perplexity within 1e-8 of the CPU's),
tf32 (tensor cores), or bf16 (weights and product inputs rounded to bf16,
fp32 accumulation; norms, scan, softmax and losses stay fp32).`,
		Example: `  hyquant eval                                   # mini, full WikiText-2 test, seq_len 1024
  hyquant eval --seq-len 512 --max-windows 50 --json
  hyquant eval --model out/mini-seed --text notes.txt
  hyquant eval --model nemotron-h-mini.Q4_K_M.gguf   # a file llama-quantize wrote
  hyquant eval --model out/mini-seed --baseline nemotron-h-mini --max-windows 16   # KL against the float model
  hyquant eval --model /data/Nemotron-H-8B-Base-8K --weights mapped --device cuda --cuda-math bf16 --seq-len 2048`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEval(cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.model, "model", "", "model directory, GGUF file or embedded name (default nemotron-h-mini)")
	f.StringVar(&o.text, "text", datasets.WikiText2Test, "text to evaluate: a file, or an embedded text")
	f.StringVar(&o.protocol, "protocol", "", "wikitext (join rows as the reference does) or plain; default wikitext for the embedded test split, plain for files")
	f.IntVar(&o.seqLen, "seq-len", 1024, "tokens per window")
	f.IntVar(&o.maxWindows, "max-windows", 0, "evaluate only the first K windows (0 = all)")
	f.IntVar(&o.threads, "threads", 0, "CPU threads (0 = all cores)")
	f.StringVar(&o.weights, "weights", "auto", "how float weights are held: auto, f32 (converted) or mapped (bf16 from the mapped file)")
	f.StringVar(&o.baseline, "baseline", "", "compare with this model (directory, GGUF file or embedded name): KL divergence, top-1 agreement, both perplexities")
	f.BoolVar(&o.asJSON, "json", false, "write JSON instead of text")
	f.StringVar(&o.device, "device", "cpu", "where the forward pass runs: cpu, or cuda (the first NVIDIA GPU; see --cuda-math)")
	f.StringVar(&o.cudaMath, "cuda-math", "fp32", "with --device cuda, the matrix products: fp32 (parity with the CPU), tf32 (tensor cores) or bf16 (weights and product inputs in bf16, fp32 accumulation)")
	return cmd
}

func weightMode(s string) (hqruntime.WeightMode, error) {
	switch s {
	case "auto", "":
		return hqruntime.WeightsAuto, nil
	case "f32":
		return hqruntime.WeightsFloat32, nil
	case "mapped":
		return hqruntime.WeightsMapped, nil
	}
	return 0, fmt.Errorf("--weights %q is not auto, f32 or mapped", s)
}

// evalText loads a text and applies the protocol's row joining when asked.
func evalText(name, protocol string) (datasets.Text, string, error) {
	t, err := datasets.Load(name)
	if err != nil {
		return t, "", err
	}
	if protocol == "" {
		protocol = "plain"
		if t.Name == datasets.WikiText2Test {
			protocol = "wikitext"
		}
	}
	switch protocol {
	case "wikitext":
		return t, eval.JoinRows(t.Body), nil
	case "plain":
		return t, t.Body, nil
	}
	return t, "", fmt.Errorf("--protocol %q is not wikitext or plain", protocol)
}

type evalJSON struct {
	Model      string  `json:"model"`
	Format     string  `json:"format"`
	Text       string  `json:"text"`
	PPL        float64 `json:"ppl"`
	MeanNLL    float64 `json:"mean_nll"`
	Tokens     int     `json:"tokens"`
	TextTokens int     `json:"text_tokens"`
	Windows    int     `json:"windows"`
	SeqLen     int     `json:"seq_len"`
	Seconds    float64 `json:"seconds"`
	TokensPerS float64 `json:"tokens_per_second"`
	PeakRSS    int64   `json:"peak_rss_bytes"`
	Threads    int     `json:"threads"`
	Device     string  `json:"device,omitempty"`         // the GPU, with --device cuda
	CUDAMath   string  `json:"cuda_math,omitempty"`      // fp32, tf32 or bf16, with --device cuda
	UploadS    float64 `json:"upload_seconds,omitempty"` // weights to the GPU, not in seconds
	// GPUMemory is the device memory in use after the last batch (weights,
	// scratch and the CUDA context; the scratch is kept across batches, so
	// this is the peak), with --device cuda.
	GPUMemory int64 `json:"gpu_memory_used_bytes,omitempty"`
	// GPUWeights counts the linears by how the device holds them
	// ("q4_K ×20, bf16 ×8"; packed ones are dequantised per product).
	GPUWeights string `json:"gpu_weights,omitempty"`
}

// check validates the numeric flags by the rules of the experiment
// config's eval fields.
func (o evalOptions) check() error {
	if err := limits.SeqLen.Flag("seq-len", o.seqLen); err != nil {
		return err
	}
	if err := limits.MaxWindows.Flag("max-windows", o.maxWindows); err != nil {
		return err
	}
	if err := checkDevice(o.device); err != nil {
		return err
	}
	if _, err := gpu.ParseMath(o.cudaMath); err != nil {
		return fmt.Errorf("--cuda-math: %w", err)
	}
	return limits.Threads.Flag("threads", o.threads)
}

// gpuOptions are the device options the flags ask for (--cuda-math is
// checked by check).
func (o evalOptions) gpuOptions() gpu.Options {
	m, _ := gpu.ParseMath(o.cudaMath)
	return gpu.Options{Math: m}
}

// finitePPL refuses a perplexity that is not a finite number (the model's
// outputs overflowed), naming the model, instead of printing NaN.
func finitePPL(model string, ppl, nll float64) error {
	if math.IsNaN(ppl) || math.IsInf(ppl, 0) || math.IsNaN(nll) || math.IsInf(nll, 0) {
		return fmt.Errorf("model %s: perplexity %v (mean nll %v) is not a finite number: its outputs are not usable", model, ppl, nll)
	}
	return nil
}

func runEval(w io.Writer, o evalOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.threads > 0 {
		runtime.GOMAXPROCS(o.threads)
	}
	mode, err := weightMode(o.weights)
	if err != nil {
		return err
	}
	dev, err := openDevice(o.device) // before anything is loaded
	if err != nil {
		return err
	}
	if dev != nil {
		defer dev.Close()
	}
	text, body, err := evalText(o.text, o.protocol)
	if err != nil {
		return err
	}
	l, err := hqruntime.OpenModel(o.model, mode)
	if err != nil {
		return err
	}
	defer l.Close()
	ids := l.Tokenizer.Encode(body)
	if o.baseline != "" {
		return runCompare(w, o, mode, text, body, l, ids, dev)
	}

	windows := len(eval.Windows(ids, o.seqLen, o.maxWindows))
	bar := progress.New(windows, "eval", o.asJSON)
	started := time.Now()
	report := func(done, total int) {
		bar.Set(done, fmt.Sprintf("eval %.0f tok/s", float64(done*o.seqLen)/time.Since(started).Seconds()))
	}
	var r eval.Result
	var gpuRun cudaEval
	if o.device == "cuda" {
		r, gpuRun, err = perplexityCUDA(context.Background(), dev, l.Model, o.gpuOptions(), ids, o.seqLen, o.maxWindows, report)
	} else {
		r, err = eval.Perplexity(l.Model, ids, o.seqLen, o.maxWindows, report)
	}
	bar.Finish()
	if err == nil {
		err = finitePPL(l.Files.Describe(), r.PPL, r.MeanNLL)
	}
	if err != nil {
		return err
	}
	out := evalJSON{Model: l.Files.Describe(), Format: l.Format, Text: text.Name, PPL: r.PPL, MeanNLL: r.MeanNLL, Tokens: r.Tokens, TextTokens: r.TextTokens,
		Windows: r.Windows, SeqLen: r.SeqLen, Seconds: r.Seconds, TokensPerS: r.TokensPerS, PeakRSS: sysinfo.PeakRSS(), Threads: runtime.GOMAXPROCS(0),
		Device: gpuRun.device, UploadS: gpuRun.uploadSeconds, GPUMemory: gpuRun.memoryUsed, GPUWeights: gpuRun.storage}
	if out.Device != "" {
		out.CUDAMath = o.cudaMath
	}
	if o.asJSON {
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "Model:        %s (%s weights)\n", out.Model, out.Format)
	fmt.Fprintf(w, "Text:         %s, %s tokens\n", out.Text, units.Commas(int64(out.TextTokens)))
	fmt.Fprintf(w, "Windows:      %d x %d tokens (non-overlapping, tail dropped)\n", out.Windows, out.SeqLen)
	fmt.Fprintf(w, "Perplexity:   %.4f (mean nll %.6f)\n", out.PPL, out.MeanNLL)
	if out.Device != "" {
		fmt.Fprintf(w, "Device:       %s (weights %s, uploaded in %.2f s; %s of device memory in use)\n", out.Device, units.Both(gpuRun.weightBytes), out.UploadS, units.Both(gpuRun.memoryUsed))
		fmt.Fprintf(w, "On device:    %s\n", out.GPUWeights)
		fmt.Fprintf(w, "Time:         %.2f s for %s tokens, %.0f tokens/s on the GPU (%s products)\n", out.Seconds, units.Commas(int64(out.Tokens)), out.TokensPerS, out.CUDAMath)
	} else {
		fmt.Fprintf(w, "Time:         %.1f s for %s tokens, %.0f tokens/s on %d threads\n", out.Seconds, units.Commas(int64(out.Tokens)), out.TokensPerS, out.Threads)
	}
	fmt.Fprintf(w, "Peak memory:  %s resident\n", units.Both(out.PeakRSS))
	return nil
}

// evalKLJSON is eval --baseline's JSON: the model's perplexity fields, the
// baseline's, and the KL statistics.
type evalKLJSON struct {
	evalJSON
	Baseline       string  `json:"baseline"`
	BaselineFormat string  `json:"baseline_format"`
	PPLBase        float64 `json:"ppl_base"`
	MeanNLLBase    float64 `json:"mean_nll_base"`
	DeltaPPL       float64 `json:"delta_ppl"` // ppl - ppl_base
	PPLRatio       float64 `json:"ppl_ratio"` // ppl / ppl_base
	eval.KLStats
}

// runCompare is eval --baseline: the model against the baseline on the
// same windows.
func runCompare(w io.Writer, o evalOptions, mode hqruntime.WeightMode, text datasets.Text, body string, l *hqruntime.Loaded, ids []int, dev *cuda.Device) error {
	b, err := hqruntime.OpenModel(o.baseline, mode)
	if err != nil {
		return fmt.Errorf("--baseline: %w", err)
	}
	defer b.Close()
	if !slices.Equal(b.Tokenizer.Encode(body), ids) {
		return fmt.Errorf("--baseline %s tokenises the text differently from the model: they cannot be compared position by position", b.Files.Describe())
	}
	windows := len(eval.Windows(ids, o.seqLen, o.maxWindows))
	bar := progress.New(windows, "compare", o.asJSON)
	started := time.Now()
	report := func(done, total int) {
		bar.Set(done, fmt.Sprintf("compare %.0f tok/s", float64(done*o.seqLen)/time.Since(started).Seconds()))
	}
	var r eval.KLResult
	var gpuRun cudaEval
	if dev != nil {
		r, gpuRun, err = compareCUDA(context.Background(), dev, l.Model, b.Model, o.gpuOptions(), ids, o.seqLen, o.maxWindows, report)
	} else {
		r, err = eval.Compare(l.Model, b.Model, ids, o.seqLen, o.maxWindows, report)
	}
	bar.Finish()
	if err != nil {
		return err
	}
	out := evalKLJSON{
		evalJSON: evalJSON{Model: l.Files.Describe(), Format: l.Format, Text: text.Name, PPL: r.PPL, MeanNLL: r.MeanNLL, Tokens: r.Tokens, TextTokens: r.TextTokens,
			Windows: r.Windows, SeqLen: r.SeqLen, Seconds: r.Seconds, TokensPerS: r.TokensPerS, PeakRSS: sysinfo.PeakRSS(), Threads: runtime.GOMAXPROCS(0),
			Device: gpuRun.device, UploadS: gpuRun.uploadSeconds, GPUMemory: gpuRun.memoryUsed, GPUWeights: gpuRun.storage},
		Baseline: b.Files.Describe(), BaselineFormat: b.Format, PPLBase: r.PPLBase, MeanNLLBase: r.MeanNLLBase, DeltaPPL: r.DeltaPPL, PPLRatio: r.PPLRatio,
		KLStats: r.KLStats,
	}
	if out.Device != "" {
		out.CUDAMath = o.cudaMath
	}
	if o.asJSON {
		return writeJSON(w, out)
	}
	printCompare(w, out)
	return nil
}

func printCompare(w io.Writer, out evalKLJSON) {
	fmt.Fprintf(w, "Model:        %s (%s weights)\n", out.Model, out.Format)
	fmt.Fprintf(w, "Baseline:     %s (%s weights)\n", out.Baseline, out.BaselineFormat)
	fmt.Fprintf(w, "Text:         %s, %s tokens\n", out.Text, units.Commas(int64(out.TextTokens)))
	fmt.Fprintf(w, "Windows:      %d x %d tokens (non-overlapping, tail dropped), %s positions compared\n", out.Windows, out.SeqLen, units.Commas(int64(out.Positions)))
	fmt.Fprintf(w, "Perplexity:   %.4f (mean nll %.6f), baseline %.4f (mean nll %.6f)\n", out.PPL, out.MeanNLL, out.PPLBase, out.MeanNLLBase)
	fmt.Fprintf(w, "Δ ppl:        %+.4f (ratio %.6f)\n", out.DeltaPPL, out.PPLRatio)
	fmt.Fprintf(w, "Mean KL:      %.6f ± %.6f nats, KL(P_base || P_model)\n", out.MeanKL, out.MeanKLSE)
	fmt.Fprintf(w, "KL quantiles: median %.6f, 90%% %.6f, 99%% %.6f, 99.9%% %.6f, max %.6f\n", out.KLMedian, out.KLP90, out.KLP99, out.KLP999, out.KLMax)
	fmt.Fprintf(w, "Top-1 agree:  %.3f ± %.3f %%\n", 100*out.Top1Agreement, 100*out.Top1AgreementSE)
	if out.Device != "" {
		fmt.Fprintf(w, "Device:       %s (both models; %s of device memory in use; %s products)\n", out.Device, units.Both(out.GPUMemory), out.CUDAMath)
		fmt.Fprintf(w, "Time:         %.2f s for %s tokens through both models, %.0f tokens/s on the GPU\n", out.Seconds, units.Commas(int64(out.Tokens)), out.TokensPerS)
	} else {
		fmt.Fprintf(w, "Time:         %.1f s for %s tokens through both models, %.0f tokens/s on %d threads\n", out.Seconds, units.Commas(int64(out.Tokens)), out.TokensPerS, out.Threads)
	}
	fmt.Fprintf(w, "Peak memory:  %s resident\n", units.Both(out.PeakRSS))
}
