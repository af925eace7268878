package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hyquant/hyquant/internal/table"
	"github.com/hyquant/hyquant/internal/units"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

func newInspectCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect [model dir | config.json | embedded name]",
		Short: "Show the exact architecture inventory: layer pattern, every parameter by category, bytes",
		Long: `inspect derives every named parameter of a NemotronH model from its config,
including the bare nn.Parameters A_log, D and dt_bias that a walk over modules
misses, and groups them into categories (SSM in/out projections, conv1d, gated
norm, SSM core, MLP up/down, attention q/k/v/o, embeddings, lm_head, norms).

Bytes are at the stored dtype: the checkpoint's when weights are present, else
the config's torch_dtype. GB means 10^9 bytes and GiB 2^30 bytes.

With a checkpoint, the derived inventory is compared with it and every
missing, unexpected and mis-shaped tensor is listed (exit status 1).`,
		Example: `  hyquant inspect                                        # the embedded mini model
  hyquant inspect models/nemotron-h-8b-base-8k/config.json
  hyquant inspect path/to/Nemotron-H-8B-Base-8K --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) == 1 {
				ref = args[0]
			}
			return runInspect(cmd.OutOrStdout(), ref, asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "write JSON instead of tables")
	return cmd
}

type inspectJSON struct {
	Model       string            `json:"model"`
	Pattern     string            `json:"pattern"`
	Layers      []string          `json:"layers"`
	TotalParams int64             `json:"total_params"`
	TotalBytes  int64             `json:"total_bytes"`
	Categories  []inspectCategory `json:"categories"`
	Tensors     []inspectTensor   `json:"tensors"`
	Mismatches  []inspectMismatch `json:"mismatches,omitempty"`
}

type inspectCategory struct {
	Name    string `json:"name"`
	Rollup  string `json:"rollup"`
	Tensors int    `json:"tensors"`
	Params  int64  `json:"params"`
	Bytes   int64  `json:"bytes"`
}

type inspectTensor struct {
	Name     string `json:"name"`
	Shape    []int  `json:"shape"`
	DType    string `json:"dtype"`
	Category string `json:"category"`
	Layer    int    `json:"layer"`
}

type inspectMismatch struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Msg  string `json:"message"`
}

func runInspect(w io.Writer, ref string, asJSON bool) error {
	mf, err := runtime.ResolveModel(ref)
	if err != nil {
		return err
	}
	cfg := mf.Config
	inv := runtime.BuildInventory(cfg)
	var ck *runtime.Checkpoint
	if !mf.ConfigOnly {
		if ck, err = mf.OpenCheckpoint(); err != nil {
			return err
		}
		defer ck.Close()
	}
	dtypeOf, err := mf.StoredDTypes(ck)
	if err != nil {
		return err
	}
	var mismatches []runtime.Mismatch
	if ck != nil {
		mismatches = inv.Compare(ck)
	}

	out := inspectJSON{Model: mf.Describe(), Pattern: cfg.Pattern(), TotalParams: inv.TotalParams()}
	for _, k := range cfg.Layers {
		out.Layers = append(out.Layers, k.String())
	}
	bytesBy := map[runtime.Category]int64{}
	for _, p := range inv.Params {
		d := dtypeOf(p.Name)
		b := p.NumElements() * int64(d.Size())
		bytesBy[p.Category] += b
		out.TotalBytes += b
		out.Tensors = append(out.Tensors, inspectTensor{Name: p.Name, Shape: p.Shape, DType: string(d), Category: string(p.Category), Layer: p.Layer})
	}
	for _, s := range inv.ByCategory() {
		out.Categories = append(out.Categories, inspectCategory{Name: string(s.Category), Rollup: s.Category.Rollup(), Tensors: s.Tensors, Params: s.Params, Bytes: bytesBy[s.Category]})
	}
	for _, m := range mismatches {
		out.Mismatches = append(out.Mismatches, inspectMismatch{m.Name, m.Kind, m.Msg})
	}
	if asJSON {
		if err := writeJSON(w, out); err != nil {
			return err
		}
	} else {
		printInspect(w, mf, inv, out, dtypeOf)
	}
	if len(mismatches) > 0 {
		return exitError{1}
	}
	return nil
}

func printInspect(w io.Writer, mf *runtime.ModelFiles, inv *runtime.Inventory, out inspectJSON, dtypeOf func(string) safetensors.DType) {
	cfg := mf.Config
	fmt.Fprintf(w, "Model: %s\n", mf.Describe())
	fmt.Fprintf(w, "Config: hidden %d, vocab %d, MLP %d (%s), Mamba2 %d heads x %d, %d groups, state %d, conv %d; attention %d q / %d kv heads x %d\n\n",
		cfg.HiddenSize, cfg.VocabSize, cfg.IntermediateSize, cfg.MLPActivation, cfg.MambaNumHeads, cfg.MambaHeadDim, cfg.NGroups, cfg.SSMStateSize, cfg.ConvKernel,
		cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim)

	fmt.Fprintf(w, "Layer pattern (%d layers): %s\n", len(cfg.Layers), cfg.Pattern())
	for _, k := range []runtime.LayerKind{runtime.Mamba2Layer, runtime.MLPLayer, runtime.AttentionLayer} {
		idx := cfg.LayersOf(k)
		s := make([]string, len(idx))
		for i, v := range idx {
			s[i] = fmt.Sprint(v)
		}
		fmt.Fprintf(w, "  %-9s %2d: %s\n", k, len(idx), strings.Join(s, " "))
	}
	fmt.Fprintln(w)
	const perLine = 8
	for i := 0; i < len(cfg.Layers); i += perLine {
		var cells []string
		for j := i; j < i+perLine && j < len(cfg.Layers); j++ {
			cells = append(cells, fmt.Sprintf("%3d %-9s", j, cfg.Layers[j]))
		}
		fmt.Fprintln(w, " "+strings.TrimRight(strings.Join(cells, " "), " "))
	}
	fmt.Fprintln(w)

	dtypes := map[safetensors.DType]bool{}
	for _, p := range inv.Params {
		dtypes[dtypeOf(p.Name)] = true
	}
	dt := "mixed dtypes"
	if len(dtypes) == 1 {
		for d := range dtypes {
			dt = string(d)
		}
	}
	t := table.New("category", "tensors", "parameters", "share", "bytes ("+dt+")", "GB", "GiB")
	rollParams := map[string]int64{}
	rollBytes := map[string]int64{}
	rollTensors := map[string]int{}
	for _, c := range out.Categories {
		t.Row(c.Name, c.Tensors, units.Commas(c.Params), units.Percent(float64(c.Params)/float64(out.TotalParams)), units.Commas(c.Bytes),
			fmt.Sprintf("%.4f", float64(c.Bytes)/units.GB), fmt.Sprintf("%.4f", float64(c.Bytes)/units.GiB))
		rollParams[c.Rollup] += c.Params
		rollBytes[c.Rollup] += c.Bytes
		rollTensors[c.Rollup] += c.Tensors
	}
	t.Rule()
	for _, r := range runtime.Rollups {
		t.Row(r+" (all)", rollTensors[r], units.Commas(rollParams[r]), units.Percent(float64(rollParams[r])/float64(out.TotalParams)), units.Commas(rollBytes[r]),
			fmt.Sprintf("%.4f", float64(rollBytes[r])/units.GB), fmt.Sprintf("%.4f", float64(rollBytes[r])/units.GiB))
	}
	t.Rule()
	t.Row("total", len(out.Tensors), units.Commas(out.TotalParams), "100.00%", units.Commas(out.TotalBytes),
		fmt.Sprintf("%.4f", float64(out.TotalBytes)/units.GB), fmt.Sprintf("%.4f", float64(out.TotalBytes)/units.GiB))
	t.Render(w)
	fmt.Fprintf(w, "\nTotal: %s parameters, %s bytes = %s. GB = 10^9 bytes, GiB = 2^30 bytes.\n", units.Commas(out.TotalParams), units.Commas(out.TotalBytes), units.Both(out.TotalBytes))
	fmt.Fprintln(w, "ssm_core holds the bare nn.Parameters A_log, D and dt_bias of every Mamba2 layer.")
	if len(out.Mismatches) > 0 {
		fmt.Fprintf(w, "\nThe checkpoint does not match the config: %d problems\n", len(out.Mismatches))
		for _, m := range out.Mismatches {
			fmt.Fprintf(w, "  %-10s %s: %s\n", m.Kind, m.Name, m.Msg)
		}
	} else if !mf.ConfigOnly {
		fmt.Fprintf(w, "Checkpoint matches the derived inventory tensor for tensor (%d tensors).\n", len(out.Tensors))
	}
}
