// Command hyquant is a quantisation research and evaluation harness for
// hybrid Mamba2-Transformer language models (NVIDIA Nemotron-H).
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := newRootCmd()
	err := root.Execute()
	stopProfile()
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "hyquant:", err)
		os.Exit(1)
	}
}

// exitError ends the command with a status after its output was printed.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "hyquant",
		Short: "Quantisation research harness for hybrid Mamba2-Transformer models (Nemotron-H)",
		Long: `hyquant inspects Nemotron-H checkpoints, plans per-category precisions with exact
memory accounting, quantises them (RTN, GPTQ, MambaQuant rotations), evaluates
WikiText-2 perplexity with its own exact hybrid runtime, and writes reports.

A model is a directory in the Hugging Face layout (config.json, safetensors,
tokenizer.json), a llama.cpp GGUF file (nemotron_h), a bare config.json
(shapes only), or the name of a model embedded in the binary: nemotron-h-mini
(the default, a trained 15M-parameter NemotronH) or nemotron-h-8b-base-8k (the
published 8B config, shapes only).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().String("cpuprofile", "", "write a Go CPU profile of the command to this file (go tool pprof reads it)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		path, _ := cmd.Flags().GetString("cpuprofile")
		return startProfile(path)
	}
	root.AddCommand(newInspectCmd(), newPlanCmd(), newEvalCmd(), newQuantizeCmd(), newRunCmd(), newReportCmd(), newSynthCmd(), newExportCmd(), newSearchCmd())
	return root
}
