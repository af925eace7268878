// Package limits is the one rule for the numeric settings that both
// command-line flags and experiment config fields carry (window length and
// count, threads, calibration segments, shard size): a value is checked the
// same way, with the same message, wherever it is given.
package limits

import (
	"fmt"
	"math"
)

// Int is the range of an integer setting.
type Int struct {
	Min, Max int
	// Zero is what 0 means when it is allowed below the otherwise positive
	// range ("all windows"); "" when Min is simply the smallest value.
	Zero string
}

// The integer settings. The maxima are far beyond any sensible run and
// only catch typos and hostile input before memory is sized from them.
var (
	SeqLen     = Int{Min: 2, Max: 1 << 20} // tokens per window: a window needs a token and its successor
	MaxWindows = Int{Min: 0, Max: 1 << 30, Zero: "all windows"}
	Threads    = Int{Min: 0, Max: 1 << 12, Zero: "all cores"}
	Segments   = Int{Min: 1, Max: 1 << 16} // calibration segments
	Length     = Int{Min: 2, Max: 1 << 20} // tokens per calibration segment
)

// Check returns what is wrong with v, phrased to follow the name of a field
// or flag ("must be at least 2, got 1"), or nil.
func (r Int) Check(v int) error {
	switch {
	case v < r.Min && r.Zero != "" && r.Min == 0:
		return fmt.Errorf("must be 0 (%s) or positive, got %d", r.Zero, v)
	case v < r.Min:
		return fmt.Errorf("must be at least %d, got %d", r.Min, v)
	case v > r.Max:
		return fmt.Errorf("must be at most %d, got %d", r.Max, v)
	}
	return nil
}

// Flag checks the value of a command-line flag: "--seq-len: must be at
// least 2, got 1".
func (r Int) Flag(name string, v int) error {
	if err := r.Check(v); err != nil {
		return fmt.Errorf("--%s: %w", name, err)
	}
	return nil
}

// Float is the range (Min, Max] of a positive real setting.
type Float struct{ Max float64 }

// ShardGB is the target shard size in GB: positive, at most 1000 (a TB).
var ShardGB = Float{Max: 1000}

// Check returns what is wrong with v, or nil.
func (r Float) Check(v float64) error {
	if !(v > 0) || math.IsInf(v, 0) || v > r.Max {
		return fmt.Errorf("must be a positive number at most %g, got %g", r.Max, v)
	}
	return nil
}

// Flag checks the value of a command-line flag.
func (r Float) Flag(name string, v float64) error {
	if err := r.Check(v); err != nil {
		return fmt.Errorf("--%s: %w", name, err)
	}
	return nil
}
