// Package calib quantises a model in memory under a resolved plan (Apply):
// tensors whose method needs no calibration straight from their float
// weights, then, block by block, every projection from statistics of the
// inputs that the already-quantised layers before it produce (Collector),
// measuring each projection's output error on the way when asked.
package calib
