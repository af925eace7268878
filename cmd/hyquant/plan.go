package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hyquant/hyquant/internal/table"
	"github.com/hyquant/hyquant/internal/units"
	"github.com/hyquant/hyquant/plans"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
)

func newPlanCmd() *cobra.Command {
	var planRef string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan [model dir | config.json | file.gguf | embedded name] --plan <plan.yaml | shipped name>",
		Short: "Exact memory footprint of a per-category precision plan, and the 58% claim checked",
		Long: `plan resolves a precision plan against every parameter of a model and sums the
exact bytes it would store: packed codes, scales, zero points and any auxiliary
tensors, per category, nothing rounded away. The bytes are the same ones
'hyquant quantize' writes for that plan (one layout function serves both).

A plan is YAML mapping categories to precisions (see plans/README.md):
  categories:
    ssm_in_proj: {method: rtn, bits: 4, granularity: "group:128", symmetric: true, scale_dtype: fp16}
    mlp_up:      {method: channel8}
    embedding:   {keep: bf16}
Categories a plan leaves out are kept as stored. Overrides give chosen layers
and tensors their own precision (the last match wins):
  overrides:
    - {layers: [0, 1, 2], categories: [mlp_down], spec: {method: rtn, bits: 8}}
    - {tensors: 'layers\.5\.mixer\.v_proj', spec: keep}
A plan may start from a llama.cpp recipe: llama_recipe: {recipe: Q4_K_M,
imatrix: false} gives every tensor llama-quantize's type (method ggml, llama.cpp's
block types and rounding; F32 for what llama-quantize never quantises), so its
bytes are those of llama-quantize's file. The shipped llama-q8_0 ... llama-q2_k
plans are such recipes. Shipped plans: ` + strings.Join(plans.Names(), ", ") + `.

The output ends with the widely quoted "15.45 GB -> ~6.5 GB, a 58% reduction"
claim reproduced in its own units and checked against this plan and the
shipped ones.`,
		Example: `  hyquant plan models/nemotron-h-8b-base-8k/config.json --plan plans/seed.yaml
  hyquant plan nemotron-h-8b-base-8k --plan seed-emb8 --json
  hyquant plan --plan my-plan.yaml          # the embedded mini model
  hyquant plan nemotron-h-8b-base-8k --plan llama-q4_k_m   # llama-quantize's Q4_K_M: 4744.99 MiB
  hyquant plan nemotron-h-mini.Q4_K_M.gguf --plan seed     # starting from a GGUF file`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ref := ""
			if len(args) == 1 {
				ref = args[0]
			}
			if planRef == "" {
				return fmt.Errorf("--plan is required (a plan YAML file, or one of: %s)", strings.Join(plans.Names(), ", "))
			}
			return runPlan(cmd.OutOrStdout(), ref, planRef, asJSON)
		},
	}
	cmd.Flags().StringVar(&planRef, "plan", "", "plan YAML file or shipped plan name ("+strings.Join(plans.Names(), ", ")+")")
	cmd.Flags().BoolVar(&asJSON, "json", false, "write JSON instead of tables")
	return cmd
}

type planJSON struct {
	Plan           string             `json:"plan"`
	Model          string             `json:"model"`
	BaselineBytes  int64              `json:"baseline_bytes"`
	QuantizedBytes int64              `json:"quantized_bytes"`
	Reduction      float64            `json:"reduction"`
	Categories     []planCategoryJSON `json:"categories"`
	Claim          claimJSON          `json:"claim_58_percent"`
}

type planCategoryJSON struct {
	Name           string `json:"name"`
	Precision      string `json:"precision"`
	Params         int64  `json:"params"`
	BaselineBytes  int64  `json:"baseline_bytes"`
	QuantizedBytes int64  `json:"quantized_bytes"`
	CodeBytes      int64  `json:"code_bytes"`
	ScaleBytes     int64  `json:"scale_bytes"`
	ZeroBytes      int64  `json:"zero_point_bytes"`
	OtherBytes     int64  `json:"other_bytes"`
}

type claimJSON struct {
	Unit                string             `json:"claim_unit"`
	BaselineClaimUnits  float64            `json:"baseline_in_claim_units"`
	QuantizedClaimUnits float64            `json:"quantized_in_claim_units"`
	BaselineMatches     bool               `json:"baseline_matches_15_45"`
	Reaches58           bool               `json:"reaches_58_percent"`
	ShippedPlans        map[string]float64 `json:"shipped_plan_reductions"`
}

// partBytes splits a category's stored bytes into codes, scales, zero points
// and everything else (kept tensors, auxiliary tensors).
func partBytes(r *plan.Resolved) map[runtime.Category]*planCategoryJSON {
	out := map[runtime.Category]*planCategoryJSON{}
	for _, a := range r.Assignments {
		c := out[a.Param.Category]
		if c == nil {
			c = &planCategoryJSON{}
			out[a.Param.Category] = c
		}
		for _, t := range quant.Layout(a) {
			switch {
			case strings.HasSuffix(t.Name, grid.CodesSuffix), strings.HasSuffix(t.Name, quant.GGMLBlocksSuffix):
				c.CodeBytes += t.Bytes()
			case strings.HasSuffix(t.Name, grid.ScalesSuffix):
				c.ScaleBytes += t.Bytes()
			case strings.HasSuffix(t.Name, grid.ZerosSuffix):
				c.ZeroBytes += t.Bytes()
			default:
				c.OtherBytes += t.Bytes()
			}
		}
	}
	return out
}

// footprintOf resolves a plan on a model and returns its footprint.
func footprintOf(p *plan.Plan, mf *runtime.ModelFiles, ck *runtime.Checkpoint) (*plan.Resolved, plan.Footprint, error) {
	inv := runtime.BuildInventory(mf.Config)
	dtypeOf, err := mf.StoredDTypes(ck)
	if err != nil {
		return nil, plan.Footprint{}, err
	}
	r, err := p.Resolve(inv, dtypeOf)
	if err != nil {
		return nil, plan.Footprint{}, err
	}
	return r, r.Footprint(), nil
}

func runPlan(w io.Writer, ref, planRef string, asJSON bool) error {
	mf, err := runtime.ResolveModel(ref)
	if err != nil {
		return err
	}
	p, err := plans.Load(planRef)
	if err != nil {
		return err
	}
	var ck *runtime.Checkpoint
	if !mf.ConfigOnly {
		if ck, err = mf.OpenCheckpoint(); err != nil {
			return err
		}
		defer ck.Close()
	}
	r, f, err := footprintOf(p, mf, ck)
	if err != nil {
		return err
	}
	parts := partBytes(r)
	claim := plan.CheckClaim(f)
	shipped := map[string]float64{}
	for _, name := range plans.Names() {
		sp, err := plans.Load(name)
		if err != nil {
			return err
		}
		if _, sf, err := footprintOf(sp, mf, ck); err == nil {
			shipped[name] = sf.Reduction()
		}
	}

	out := planJSON{Plan: p.Name, Model: mf.Describe(), BaselineBytes: f.Baseline, QuantizedBytes: f.Quantized, Reduction: f.Reduction(),
		Claim: claimJSON{Unit: "bytes / 2^20 / 1000", BaselineClaimUnits: claim.BaselineClaimUnits, QuantizedClaimUnits: claim.QuantizedClaimUnits,
			BaselineMatches: claim.BaselineMatches, Reaches58: claim.Reaches58, ShippedPlans: shipped}}
	for _, c := range f.Categories {
		pc := parts[c.Category]
		pc.Name, pc.Precision, pc.Params, pc.BaselineBytes, pc.QuantizedBytes = string(c.Category), c.Precision(), c.Params, c.Baseline, c.Quantized
		out.Categories = append(out.Categories, *pc)
	}
	if asJSON {
		return writeJSON(w, out)
	}

	fmt.Fprintf(w, "Plan: %s (%s)", p.Name, p.Source)
	if p.Description != "" {
		fmt.Fprintf(w, ": %s", p.Description)
	}
	fmt.Fprintf(w, "\nModel: %s, %s parameters\n\n", mf.Describe(), units.Commas(r.Inventory.TotalParams()))
	t := table.New("category", "precision", "parameters", "baseline bytes", "codes", "scales", "zeros", "kept/other", "quantized bytes", "of baseline")
	for _, c := range out.Categories {
		t.Row(c.Name, c.Precision, units.Commas(c.Params), units.Commas(c.BaselineBytes), units.Commas(c.CodeBytes), units.Commas(c.ScaleBytes),
			units.Commas(c.ZeroBytes), units.Commas(c.OtherBytes), units.Commas(c.QuantizedBytes), units.Percent(float64(c.QuantizedBytes)/float64(c.BaselineBytes)))
	}
	t.Rule()
	var codes, scales, zeros, other int64
	for _, c := range out.Categories {
		codes += c.CodeBytes
		scales += c.ScaleBytes
		zeros += c.ZeroBytes
		other += c.OtherBytes
	}
	t.Row("total", "", units.Commas(r.Inventory.TotalParams()), units.Commas(f.Baseline), units.Commas(codes), units.Commas(scales), units.Commas(zeros),
		units.Commas(other), units.Commas(f.Quantized), units.Percent(float64(f.Quantized)/float64(f.Baseline)))
	t.Render(w)
	fmt.Fprintf(w, "\nBaseline:  %s bytes = %s\n", units.Commas(f.Baseline), units.Both(f.Baseline))
	fmt.Fprintf(w, "Quantized: %s bytes = %s\n", units.Commas(f.Quantized), units.Both(f.Quantized))
	fmt.Fprintf(w, "Reduction: %s (GB = 10^9 bytes, GiB = 2^30 bytes)\n\n", units.Percent(f.Reduction()))
	printClaim(w, p.Name, f, claim, shipped)
	return nil
}

func printClaim(w io.Writer, planName string, f plan.Footprint, c plan.ClaimCheck, shipped map[string]float64) {
	fmt.Fprintln(w, `The "15.45 GB -> ~6.5 GB, a 58% reduction" claim (Nemotron-H-8B):`)
	if c.BaselineMatches {
		fmt.Fprintf(w, "  Its \"15.45 GB\" is this model's %s bf16 bytes / 2^20 / 1000 = %.3f: mebibytes divided by 1000,\n", units.Commas(f.Baseline), c.BaselineClaimUnits)
		fmt.Fprintf(w, "  a mixed unit. In real units the model is %s.\n", units.Both(f.Baseline))
	} else {
		fmt.Fprintf(w, "  The claim is about Nemotron-H-8B (16,201,705,472 bf16 bytes, whose bytes / 2^20 / 1000 = 15.45, the\n")
		fmt.Fprintf(w, "  claim's mixed unit). This model is %.3f in that unit, so only the 58%% ratio compares.\n", c.BaselineClaimUnits)
	}
	verdict := "does NOT reach 58%"
	if c.Reaches58 {
		verdict = "reaches ~58%"
	}
	fmt.Fprintf(w, "  Plan %s: %s = %.3f in the claim's unit; reduction %s: %s.\n", planName, units.Both(f.Quantized), c.QuantizedClaimUnits, units.Percent(c.Reduction), verdict)
	var names []string
	for n := range shipped {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		mark := "no"
		if plan.ReachesClaim(shipped[n]) {
			mark = "yes"
		}
		fmt.Fprintf(w, "  Shipped plan %-12s reduction %s, reaches 58%%: %s\n", n, units.Percent(shipped[n]), mark)
	}
}
