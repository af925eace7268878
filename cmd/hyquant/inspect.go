package main

import (
	"fmt"
	"io"
	"sort"
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
		Use:   "inspect [model dir | config.json | file.gguf | embedded name]",
		Short: "Show the exact architecture inventory: layer pattern, every parameter by category, bytes",
		Long: `inspect derives every named parameter of a NemotronH model from its config,
including the bare nn.Parameters A_log, D and dt_bias that a walk over modules
misses, and groups them into categories (SSM in/out projections, conv1d, gated
norm, SSM core, MLP up/down, attention q/k/v/o, embeddings, lm_head, norms).

Bytes are at the stored dtype: the checkpoint's when weights are present, else
the config's torch_dtype. GB means 10^9 bytes and GiB 2^30 bytes.

With a checkpoint, the derived inventory is compared with it and every
missing, unexpected and mis-shaped tensor is listed (exit status 1).

A llama.cpp GGUF file (architecture nemotron_h) is read through its metadata
and shown under the Hub's names and shapes; each tensor keeps its GGUF type
(q4_K, q6_K, f32, ...) and exact bytes, and the table adds a "stored as"
column counting the types of each category.`,
		Example: `  hyquant inspect                                        # the embedded mini model
  hyquant inspect models/nemotron-h-8b-base-8k/config.json
  hyquant inspect path/to/Nemotron-H-8B-Base-8K --json
  hyquant inspect nemotron-h-mini.Q4_K_M.gguf             # a file llama.cpp wrote`,
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
	// StoredAs counts the category's tensors by stored type ("q4_K 18, q6_K 2").
	StoredAs string `json:"stored_as"`
}

type inspectTensor struct {
	Name     string `json:"name"`
	Shape    []int  `json:"shape"`
	DType    string `json:"dtype"` // safetensors dtype, or the GGUF type (q4_K, bf16, ...)
	Bytes    int64  `json:"bytes"`
	Category string `json:"category"`
	Layer    int    `json:"layer"`
	GGUFName string `json:"gguf_name,omitempty"`
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
	typesBy := map[runtime.Category]map[string]int{}
	for _, p := range inv.Params {
		it := storedAs(p, ck, dtypeOf)
		bytesBy[p.Category] += it.Bytes
		out.TotalBytes += it.Bytes
		if typesBy[p.Category] == nil {
			typesBy[p.Category] = map[string]int{}
		}
		typesBy[p.Category][it.DType]++
		out.Tensors = append(out.Tensors, it)
	}
	for _, s := range inv.ByCategory() {
		out.Categories = append(out.Categories, inspectCategory{Name: string(s.Category), Rollup: s.Category.Rollup(), Tensors: s.Tensors, Params: s.Params,
			Bytes: bytesBy[s.Category], StoredAs: countsString(typesBy[s.Category])})
	}
	for _, m := range mismatches {
		out.Mismatches = append(out.Mismatches, inspectMismatch{m.Name, m.Kind, m.Msg})
	}
	if asJSON {
		if err := writeJSON(w, out); err != nil {
			return err
		}
	} else {
		printInspect(w, mf, inv, out)
	}
	if len(mismatches) > 0 {
		return exitError{1}
	}
	return nil
}

// storedAs describes how a parameter is stored: its GGUF tensor's type
// and bytes for a GGUF model, else its dtype.
func storedAs(p runtime.Param, ck *runtime.Checkpoint, dtypeOf func(string) safetensors.DType) inspectTensor {
	it := inspectTensor{Name: p.Name, Shape: p.Shape, Category: string(p.Category), Layer: p.Layer}
	if ck != nil {
		if t, n, ok := ck.GGUFTensor(p.Name); ok {
			it.DType, it.Bytes, it.GGUFName = t.Type.String(), t.Size, n.GGUF
			return it
		}
	}
	d := dtypeOf(p.Name)
	it.DType, it.Bytes = string(d), p.NumElements()*int64(d.Size())
	return it
}

// countsString renders {"q4_K": 18, "q6_K": 2} as "q4_K 18, q6_K 2", most
// frequent first.
func countsString(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func printInspect(w io.Writer, mf *runtime.ModelFiles, inv *runtime.Inventory, out inspectJSON) {
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

	dtypes := map[string]bool{}
	for _, it := range out.Tensors {
		dtypes[it.DType] = true
	}
	dt := "as stored"
	if len(dtypes) == 1 {
		for d := range dtypes {
			dt = d
		}
	}
	cols := []string{"category", "tensors", "parameters", "share", "bytes (" + dt + ")", "GB", "GiB"}
	if len(dtypes) > 1 {
		cols = append(cols, "stored as")
	}
	t := table.New(cols...)
	rollParams := map[string]int64{}
	rollBytes := map[string]int64{}
	rollTensors := map[string]int{}
	for _, c := range out.Categories {
		cells := []any{c.Name, c.Tensors, units.Commas(c.Params), units.Percent(float64(c.Params) / float64(out.TotalParams)), units.Commas(c.Bytes),
			fmt.Sprintf("%.4f", float64(c.Bytes)/units.GB), fmt.Sprintf("%.4f", float64(c.Bytes)/units.GiB)}
		if len(dtypes) > 1 {
			cells = append(cells, c.StoredAs)
		}
		t.Row(cells...)
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
