// Package quant holds precision plans, the byte accounting of quantised
// tensors, and the quantizers (RTN, per-channel 8-bit, GPTQ, MambaQuant
// rotations) that turn float weights into packed kernels.QMatrix tensors.
//
// A plan is data: category -> Spec, resolved against a runtime.Inventory
// into tensor -> Spec before any work starts. `hyquant plan` (bytes only),
// `hyquant quantize` (real tensors) and `hyquant run` (sweeps) share that one
// resolver and one layout function, so the bytes a plan predicts and the
// bytes written come from the same code.
package quant
