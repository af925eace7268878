package experiments

import "github.com/hyquant/hyquant/eval"

// Results is the content of results.json: one record per finished run,
// assembled from the records in runs/ (in config order) as runs finish.
// Reports read it and never recompute.
type Results struct {
	Experiment string          `json:"experiment"` // experiment name
	ConfigFile string          `json:"config_file"`
	Model      string          `json:"model"`             // model reference, usable as --model
	ModelInfo  string          `json:"model_description"` // what the reference resolved to
	Params     int64           `json:"params"`            // parameters of the model
	Eval       EvalInfo        `json:"eval"`
	Calib      CalibrationInfo `json:"calibration"`
	Machine    MachineInfo     `json:"machine"`
	Runs       []RunResult     `json:"runs"`
	// WeightStats are outlier statistics of the original weights per
	// category (figure 4).
	WeightStats []CategoryWeightStats `json:"weight_stats,omitempty"`
	// Footprints8B are the exact footprints of the same plans on the
	// Nemotron-H-8B config, which need shapes only (figure 5).
	Footprints8B []PlanFootprint `json:"footprints_8b,omitempty"`
	// Identity is the experiment identity every run here was measured
	// under (absent in results written before identities existed).
	Identity *Identity `json:"identity,omitempty"`
	// Pending are the configured runs without a record yet (shards still
	// at work, or an interrupted run).
	Pending []string `json:"pending,omitempty"`
}

// EvalInfo says how perplexity was measured.
type EvalInfo struct {
	Text       string `json:"text"`
	SeqLen     int    `json:"seq_len"`
	MaxWindows int    `json:"max_windows"` // 0 = all
	Windows    int    `json:"windows"`
	Tokens     int    `json:"tokens"`
	// KL says runs were also compared with the baseline (eval.kl).
	KL bool `json:"kl,omitempty"`
}

// CalibrationInfo says what the calibration data was.
type CalibrationInfo struct {
	Text     string `json:"text"`
	Segments int    `json:"segments"`
	Length   int    `json:"length"`
	Seed     int64  `json:"seed"`
}

// MachineInfo records where the numbers were measured.
type MachineInfo struct {
	CPU     string `json:"cpu"`
	Threads int    `json:"threads"`
	GoVer   string `json:"go"`
}

// RunResult is one evaluated model: the baseline or a quantised variant.
type RunResult struct {
	Name string `json:"name"`
	// Kind is "baseline", "plan" (a whole-model plan) or "sensitivity"
	// (one category quantised, everything else kept).
	Kind string `json:"kind"`
	Hash string `json:"hash"` // hash of the resolved run config; resume key
	// Config is the resolved run configuration (plan specs per category).
	Config RunConfig `json:"config"`

	BaselineBytes int64           `json:"baseline_bytes"`
	TotalBytes    int64           `json:"total_bytes"`
	Reduction     float64         `json:"reduction"`
	Categories    []CategoryBytes `json:"categories"`

	PPL         float64 `json:"ppl"`
	DeltaPPL    float64 `json:"delta_ppl"` // PPL - baseline PPL
	MeanNLL     float64 `json:"mean_nll"`
	WallSeconds float64 `json:"wall_seconds"`
	// Device is the accelerator that computed the run (its calibrated pass
	// and evaluation; part of the hash), empty for the CPU.
	Device string `json:"device,omitempty"`
	// KLStats, with eval.kl, compare the run with the float model at every
	// scored position (mean_kl, kl_p99, top1_agreement, ...; see
	// eval.KLStats); absent without it. The baseline's are exact by
	// definition: KL 0 and agreement 1 at every position.
	*eval.KLStats

	// LayerErrors is the relative output error ||WX - QX||² / ||WX||² of
	// each quantised linear layer on calibration data.
	LayerErrors []LayerError `json:"layer_errors,omitempty"`
}

// RunConfig is what a run did, resolved (no defaults left implicit).
type RunConfig struct {
	Plan string `json:"plan"` // plan name
	// Method and Bits summarise the plan for plotting (the method and bit
	// width of its largest quantised category); empty for the baseline.
	Method string `json:"method,omitempty"`
	Bits   int    `json:"bits,omitempty"`
	// Category is set for sensitivity runs: the one category quantised.
	Category string `json:"category,omitempty"`
	// Imatrix is the llama.cpp importance-matrix file the run used.
	Imatrix string `json:"imatrix,omitempty"`
	// Recipe is the llama.cpp recipe the plan starts from ("Q4_K_M
	// (imatrix) (gptq)"); Rotation its residual rotation ("hadamard seed 0").
	Recipe   string `json:"recipe,omitempty"`
	Rotation string `json:"rotation,omitempty"`
	// LlamaCpp marks a run that is exactly what llama-quantize makes: a
	// recipe with llama.cpp's rounding, nothing rotated or overridden.
	LlamaCpp bool `json:"llama_cpp,omitempty"`
	// Searched marks a run whose plan `hyquant search` wrote.
	Searched   bool              `json:"searched,omitempty"`
	Categories map[string]string `json:"categories"` // category -> precision, e.g. "rtn w4 group:128 sym fp16"
}

// CategoryBytes is a category's footprint in one run.
type CategoryBytes struct {
	Category       string `json:"category"`
	Precision      string `json:"precision"`
	BaselineBytes  int64  `json:"baseline_bytes"`
	QuantizedBytes int64  `json:"quantized_bytes"`
}

// LayerError is one linear layer's quantisation error.
type LayerError struct {
	Name      string  `json:"name"`
	Layer     int     `json:"layer"`      // block index; -1 for lm_head
	LayerKind string  `json:"layer_kind"` // Mamba2, MLP, attention, lm_head
	Category  string  `json:"category"`
	RelError  float64 `json:"rel_error"`
}

// CategoryWeightStats are per-output-channel outlier statistics of one
// category's original weights (subsampled to at most a few thousand rows).
type CategoryWeightStats struct {
	Category string `json:"category"`
	// MaxOverStd is max|w| / std(w) of each output channel (row).
	MaxOverStd []float64 `json:"max_over_std"`
	// Kurtosis is the excess kurtosis of each output channel.
	Kurtosis []float64 `json:"kurtosis"`
}

// PlanFootprint is a plan's exact footprint on a model, per category.
type PlanFootprint struct {
	Plan       string          `json:"plan"`
	Model      string          `json:"model"`
	Baseline   int64           `json:"baseline_bytes"`
	Quantized  int64           `json:"quantized_bytes"`
	Categories []CategoryBytes `json:"categories"`
}
