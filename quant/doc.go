// Package quant holds hyquant's quantizers (RTN, per-channel 8-bit, GPTQ,
// MambaQuant rotations) that turn float weights into packed kernels.QMatrix
// tensors: the Method interface and its registry, the Spec a method
// quantises under, the calibration Stats it may need, the byte layout of
// each quantised parameter (Layout), and the run-time wrappers the packed
// weights run behind (RotatedLinear, ActQuant, QuantEmbedding).
//
// Its subpackages: grid (the rounding rules and stored form of the group
// format, which every method shares), plan (plans, resolution, footprints),
// calib (quantising a model with calibration data) and ckpt (quantised
// checkpoint directories, readable by runtime.OpenModel). See README.md.
package quant
