// Package plan holds precision plans: a Plan maps parameter categories to
// quant.Specs, read from YAML (LoadPlan, ParsePlan, ParseSpec) and written
// back (Plan.YAML), resolved against a runtime.Inventory into one
// quant.Assignment per tensor before any work starts (Plan.Resolve). A
// Resolved plan sums its exact byte footprint (Resolved.Footprint, from
// quant.Layout), which CheckClaim compares with the quoted "58%" claim.
//
// `hyquant plan` (bytes only), `hyquant quantize` (real tensors) and
// `hyquant run` (sweeps) share that one resolver and one layout function, so
// the bytes a plan predicts and the bytes written come from the same code.
package plan
