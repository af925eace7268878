// Package grid holds hyquant's group format: the rounding rules every
// quantizer shares (how a group of weights gets its scale and zero point,
// how a weight becomes a code), the granularities that say which weights
// share a scale, BuildQMatrix, through which every method packs its result
// into a kernels.QMatrix, and the names and shapes of the stored parts
// (W.codes, W.scales, W.zeros).
//
// It knows nothing of plans, methods or checkpoints; package quant builds
// its quantizers on it.
package grid
