package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/internal/progress"
	"github.com/hyquant/hyquant/internal/sysinfo"
	"github.com/hyquant/hyquant/internal/units"
	hqruntime "github.com/hyquant/hyquant/runtime"
)

type evalOptions struct {
	model      string
	text       string
	protocol   string
	seqLen     int
	maxWindows int
	threads    int
	weights    string
	asJSON     bool
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
Files are read as plain text; --protocol wikitext applies the row joining.`,
		Example: `  hyquant eval                                   # mini, full WikiText-2 test, seq_len 1024
  hyquant eval --seq-len 512 --max-windows 50 --json
  hyquant eval --model out/mini-seed --text notes.txt
  hyquant eval --model nemotron-h-mini.Q4_K_M.gguf   # a file llama-quantize wrote`,
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
	f.BoolVar(&o.asJSON, "json", false, "write JSON instead of text")
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
}

func runEval(w io.Writer, o evalOptions) error {
	if o.threads > 0 {
		runtime.GOMAXPROCS(o.threads)
	}
	mode, err := weightMode(o.weights)
	if err != nil {
		return err
	}
	if o.seqLen < 2 {
		return fmt.Errorf("--seq-len %d: a window needs at least 2 tokens", o.seqLen)
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

	windows := len(eval.Windows(ids, o.seqLen, o.maxWindows))
	bar := progress.New(windows, "eval", o.asJSON)
	started := time.Now()
	r, err := eval.Perplexity(l.Model, ids, o.seqLen, o.maxWindows, func(done, total int) {
		bar.Set(done, fmt.Sprintf("eval %.0f tok/s", float64(done*o.seqLen)/time.Since(started).Seconds()))
	})
	bar.Finish()
	if err != nil {
		return err
	}
	out := evalJSON{Model: l.Files.Describe(), Format: l.Format, Text: text.Name, PPL: r.PPL, MeanNLL: r.MeanNLL, Tokens: r.Tokens, TextTokens: r.TextTokens,
		Windows: r.Windows, SeqLen: r.SeqLen, Seconds: r.Seconds, TokensPerS: r.TokensPerS, PeakRSS: sysinfo.PeakRSS(), Threads: runtime.GOMAXPROCS(0)}
	if o.asJSON {
		return writeJSON(w, out)
	}
	fmt.Fprintf(w, "Model:        %s (%s weights)\n", out.Model, out.Format)
	fmt.Fprintf(w, "Text:         %s, %s tokens\n", out.Text, units.Commas(int64(out.TextTokens)))
	fmt.Fprintf(w, "Windows:      %d x %d tokens (non-overlapping, tail dropped)\n", out.Windows, out.SeqLen)
	fmt.Fprintf(w, "Perplexity:   %.4f (mean nll %.6f)\n", out.PPL, out.MeanNLL)
	fmt.Fprintf(w, "Time:         %.1f s for %s tokens, %.0f tokens/s on %d threads\n", out.Seconds, units.Commas(int64(out.Tokens)), out.TokensPerS, out.Threads)
	fmt.Fprintf(w, "Peak memory:  %s resident\n", units.Both(out.PeakRSS))
	return nil
}
