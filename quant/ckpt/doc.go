// Package ckpt reads and writes hyquant's quantised checkpoint directories:
// safetensors shards holding exactly the tensors quant.Layout lists, plus
// the manifest hyquant_quant.json (WriteCheckpoint, ReadManifest). Such a
// directory opens as a runtime.WeightSource (OpenQuantized, PackedWeights)
// that runs on the packed codes; importing this package registers the
// format with runtime.RegisterFormat, so runtime.OpenModel recognises it.
package ckpt
