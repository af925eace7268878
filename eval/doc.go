// Package eval holds the evaluation protocol (rows, windows, perplexity) and
// calibration. The protocol lives here and nowhere else: the CLI, the
// experiment runner and the tests all call these functions.
package eval
