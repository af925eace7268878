package ggml

import "fmt"

// Rounder quantises one row block by block with the scales fixed first,
// then the codes one value at a time (GPTQ into a block format).
//
// Fit runs the type's own quantiser on the block, so that a block fitted
// and then rounded value by value with the values it was fitted to comes
// out bit for bit as Traits.Quantize writes it. Round codes a value the way
// that quantiser's last step codes the values of the block: against
// whatever that step rounds with (the stored sub-block scales of the
// K-quants, the unrounded scale of the legacy reference roundings, the
// winning candidate inverse scale of the importance-weighted searches;
// each type's quantiser file says which). Beyond the range of the codes it
// saturates where llama.cpp's casts would wrap around (llama.cpp never
// meets such a value: a block's own values stay within its range).
//
// A Rounder keeps no reference to the slices it is given (row, imatrix, x)
// and holds the state of one row's current block: one Rounder per row,
// used by one goroutine at a time.
type Rounder interface {
	// Fit quantises block b of the row (x: the block's BlockSize current values;
	// imatrix: the block's importance weights or nil) into dst (BlockBytes bytes)
	// exactly as Traits.Quantize would write that block, fixing its scales.
	Fit(dst []byte, b int, x, imatrix []float32)
	// Round sets the code of value j (0 <= j < BlockSize) of the block last
	// fitted into dst to the one the type's final rounding step gives the value x
	// against the fitted scales, and returns the float32 that code dequantises to
	// (exactly what Dequantize would give for that element).
	Round(dst []byte, j int, x float32) float32
}

// registerRounder installs a type's Rounder; called from the quantiser
// files' init functions, next to registerQuantizer.
func registerRounder(t Type, newRounder func(row, imatrix []float32) Rounder) {
	table[t].NewRounder = newRounder
}

// NewRounder returns a Rounder for one row: row is the whole original row
// (a whole number of blocks), imatrix its importance weights (one per
// value) or nil.
func (t Type) NewRounder(row, imatrix []float32) (Rounder, error) {
	tr, ok := table[t]
	if !ok {
		return nil, fmt.Errorf("unknown ggml type id %d", uint32(t))
	}
	if tr.NewRounder == nil {
		return nil, fmt.Errorf("ggml type %s: hyquant cannot round into it", tr.Name)
	}
	if len(row)%tr.BlockSize != 0 {
		return nil, fmt.Errorf("%s: a row of %d values is not a whole number of %d-value blocks", tr.Name, len(row), tr.BlockSize)
	}
	if imatrix != nil && len(imatrix) != len(row) {
		return nil, fmt.Errorf("%s: importance matrix has %d values for a row of %d", tr.Name, len(imatrix), len(row))
	}
	return tr.NewRounder(row, imatrix), nil
}

// setBits replaces the width bits of b[i] from bit shift up by the low
// width bits of q, leaving b[i]'s other bits: how a Rounder stores one
// value's code among its neighbours'.
func setBits(b []byte, i int, shift, width uint, q uint8) {
	mask := uint8(1)<<width - 1
	b[i] = b[i]&^(mask<<shift) | (q&mask)<<shift
}
