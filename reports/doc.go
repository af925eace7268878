// Package reports turns an experiment's results.json into figures and a
// Markdown report: perplexity against memory with the Pareto frontier,
// per-category sensitivity, per-layer quantisation error, weight outlier
// statistics, memory by category for the mini and the 8B config with the
// "58% reduction" claim checked in its own units, and, when the experiment
// has llama.cpp's own files among its runs, llama.cpp against hyquant at
// equal bytes (Δppl and mean KL, each tool's Pareto frontier).
//
// Reports read experiments.Results and never recompute: every number shown
// comes from results.json, and the report names the command that reproduces
// it. Each output is written to a temporary file and renamed into place, so
// a reader never sees half a figure.
//
// Layout of the package: style.go holds everything the figures share
// (sizes, fonts, palettes per method, bit width, layer kind and category,
// axis scales, the side legend and the PNG writer); each figure has its own
// file (ppl_memory.go, sensitivity.go, layer_error.go, weight_outliers.go,
// memory_breakdown.go, frontier.go); labels.go places point labels without overlaps;
// markdown.go writes report.md; write.go ties them together.
package reports
