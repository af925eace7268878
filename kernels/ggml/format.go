package ggml

import (
	"fmt"

	"github.com/hyquant/hyquant/kernels"
)

// format is a type as a kernels.Format (registered by register, so every
// type hyquant can dequantise is in kernels' one format registry under its
// llama.cpp name).
type format struct{ tr *Traits }

func (f format) Name() string   { return f.tr.Name }
func (f format) BlockSize() int { return f.tr.BlockSize }

func (f format) RowBytes(cols int) (int, error) {
	n, err := f.tr.Type.RowBytes(int64(cols))
	return int(n), err
}

func (f format) Matrix(data []byte, rows, cols int) (kernels.RowDecoder, error) {
	return NewRows(data, f.tr.Type, rows, cols)
}

// Quantize makes every ggml format a kernels.FormatQuantizer; it fails for
// the types hyquant does not quantise into (the i-quants below 4 bits).
func (f format) Quantize(dst []byte, src []float32, rows, cols int, importance []float32) error {
	return f.tr.Type.Quantize(dst, src, rows, cols, importance)
}

// Format returns a type as a kernels.Format; ok is false for types hyquant
// cannot compute with.
func Format(t Type) (kernels.Format, bool) {
	tr, ok := table[t]
	if !ok || tr.Dequantize == nil {
		return nil, false
	}
	return format{tr}, true
}

// Rows is a matrix stored in a ggml type row by row (a GGUF tensor's
// layout), optionally read through a row permutation; it is the
// kernels.RowDecoder of every ggml format.
type Rows struct {
	data       []byte
	tr         *Traits
	rows, cols int
	rowBytes   int
	perm       []int32 // perm[r] is the stored row holding row r; nil for none
}

// NewRows wraps rows×cols values of type t held in data (exactly
// rows·RowBytes(cols) bytes).
func NewRows(data []byte, t Type, rows, cols int) (*Rows, error) {
	tr, ok := table[t]
	if !ok || tr.Dequantize == nil {
		return nil, fmt.Errorf("ggml type %s cannot be computed with", t)
	}
	rb, err := t.RowBytes(int64(cols))
	if err != nil {
		return nil, err
	}
	if rows <= 0 || int64(len(data)) != rb*int64(rows) {
		return nil, fmt.Errorf("%d bytes of %s data, a %d×%d matrix needs %d", len(data), t, rows, cols, rb*int64(rows))
	}
	return &Rows{data: data, tr: tr, rows: rows, cols: cols, rowBytes: int(rb)}, nil
}

// Permute makes row r of the matrix read stored row perm[r]; perm must be a
// permutation of 0 … rows-1.
func (g *Rows) Permute(perm []int32) error {
	if len(perm) != g.rows {
		return fmt.Errorf("permutation of %d rows for a %d-row matrix", len(perm), g.rows)
	}
	seen := make([]bool, g.rows)
	for _, p := range perm {
		if p < 0 || int(p) >= g.rows || seen[p] {
			return fmt.Errorf("row permutation is not a permutation of 0…%d", g.rows-1)
		}
		seen[p] = true
	}
	g.perm = perm
	return nil
}

// Raw returns the blocks as stored and the row permutation they are read
// through (nil for none).
func (g *Rows) Raw() (data []byte, perm []int32) { return g.data, g.perm }

// Type is the ggml type of the blocks.
func (g *Rows) Type() Type { return g.tr.Type }

// BlockSize is the values per block of the type.
func (g *Rows) BlockSize() int { return g.tr.BlockSize }

// DecodeRow dequantises columns c0 … c0+len(dst)-1 of row r; c0 and
// len(dst) are multiples of the block size.
func (g *Rows) DecodeRow(dst []float32, r, c0 int) {
	if g.perm != nil {
		r = int(g.perm[r])
	}
	start := r*g.rowBytes + c0/g.tr.BlockSize*g.tr.BlockBytes
	g.tr.Dequantize(dst, g.data[start:start+len(dst)/g.tr.BlockSize*g.tr.BlockBytes])
}

// Row writes row id (the embedding of token id, as a runtime Embedder).
func (g *Rows) Row(dst []float32, id int) { g.DecodeRow(dst[:g.cols], id, 0) }
