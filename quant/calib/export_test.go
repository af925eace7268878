package calib

// ObserveBlock exposes observeBlock to the external tests.
var ObserveBlock = observeBlock
