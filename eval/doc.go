// Package eval holds the evaluation protocol (rows, windows, perplexity),
// the comparison of a model with a baseline on the same windows (KL
// divergence, top-1 agreement) and calibration. The protocol lives here and
// nowhere else: the CLI, the experiment runner and the tests all call these
// functions.
package eval
