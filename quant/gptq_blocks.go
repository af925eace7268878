package quant

import (
	"fmt"
	"sync"

	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/kernels/ggml"
)

// RoundGPTQBlocks is GPTQ into one of llama.cpp's block types: the same
// column-by-column rounding with error feedback as RoundGPTQ, where the
// grid a column is rounded to is the format's own. When GPTQ reaches the
// first column of a block (32 or 256 columns), the format fits that block
// of the current, error-updated weights exactly as llama-quantize would
// (its scales and mins, importance-weighted by imatrix when given); the
// block's columns are then rounded one at a time against those fixed
// scales, each with the errors of the columns before it spread in. With an
// identity Hessian no error is spread and the blocks are llama-quantize's,
// bit for bit.
//
// w (rows×cols, float64) and h (cols×cols) are used as scratch; the result
// is rows rows of t.RowBytes(cols) bytes. act_order is not supported: a
// block's scales are fitted when its first column is reached, so columns
// are rounded in their stored order.
func RoundGPTQBlocks(w, h []float64, rows, cols int, t ggml.Type, imatrix []float32, o GPTQOptions, name string) ([]byte, error) {
	tr, ok := ggml.Lookup(t)
	if !ok || tr.NewRounder == nil {
		return nil, fmt.Errorf("gptq: %s: ggml type %s has no block rounder", name, t)
	}
	if o.ActOrder {
		return nil, fmt.Errorf("gptq: %s: act_order is not supported for ggml type %s (a block's scales are fitted when its first column is reached)", name, t)
	}
	bsz := tr.BlockSize
	rb, err := t.RowBytes(int64(cols))
	if err != nil {
		return nil, fmt.Errorf("gptq: %s: %w", name, err)
	}
	if len(w) != rows*cols || len(h) != cols*cols || (imatrix != nil && len(imatrix) != cols) {
		return nil, fmt.Errorf("gptq: %s: %d weights, %d Hessian and %d importance values for a %d×%d matrix", name, len(w), len(h), len(imatrix), rows, cols)
	}
	if o.Damp == 0 {
		o.Damp = DefaultDamp
	}
	if o.BlockSize <= 0 {
		o.BlockSize = DefaultBlockSize
	}
	zeroDeadColumns(w, h, rows, cols)
	p := productsOf(o.Products)
	u, err := upperCholeskyOfInverse(h, cols, o.Damp, p, name)
	if err != nil {
		return nil, err
	}
	rounders, err := rowRounders(t, w, rows, cols, imatrix)
	if err != nil {
		return nil, fmt.Errorf("gptq: %s: %w", name, err)
	}
	out := make([]byte, int64(rows)*rb)
	bs := (o.BlockSize + bsz - 1) / bsz * bsz // a format block never straddles a lazy block
	errs := make([]float64, rows*bs)
	blk := make([]float64, rows*bs)
	held, err := holdWeights(p, w, u, rows, cols, bs)
	if err != nil {
		return nil, fmt.Errorf("gptq: %s: %w", name, err)
	}
	defer held.Release()
	var bad error
	var badOnce sync.Once
	for i1 := 0; i1 < cols; i1 += bs {
		i2 := min(i1+bs, cols)
		bw := i2 - i1
		if err := held.Columns(blk[:rows*bw], i1, i2); err != nil {
			return nil, fmt.Errorf("gptq: %s: %w", name, err)
		}
		parallel.For(rows, 1, func(r0, r1 int) {
			x := make([]float32, bsz)
			for r := r0; r < r1; r++ {
				row := blk[r*bw : (r+1)*bw]
				blocks := out[int64(r)*rb : int64(r+1)*rb]
				er := errs[r*bw : (r+1)*bw]
				var block []byte
				for i := i1; i < i2; i++ {
					li := i - i1
					if i%bsz == 0 {
						b := i / bsz
						block = blocks[b*tr.BlockBytes : (b+1)*tr.BlockBytes]
						for k := range x {
							x[k] = float32(row[li+k])
						}
						var imp []float32
						if imatrix != nil {
							imp = imatrix[i : i+bsz]
						}
						rounders[r].Fit(block, b, x, imp)
					}
					q := rounders[r].Round(block, i%bsz, float32(row[li]))
					if e, ok := spreadError(row, er, u[i*cols+i1:i*cols+i2], li, float64(q)); !ok {
						badOnce.Do(func() {
							bad = fmt.Errorf("gptq: %s: rounding error of row %d, column %d is %v (weights or Hessian not finite)", name, r, i, e)
						})
						return
					}
				}
			}
		})
		if bad != nil {
			return nil, bad
		}
		if i2 < cols {
			if err := held.Update(errs[:rows*bw], i1, i2); err != nil {
				return nil, fmt.Errorf("gptq: %s: %w", name, err)
			}
		}
	}
	return out, nil
}

// rowRounders makes each row's rounder from its original weights (the
// legacy types weight their importance by the row's mean square).
func rowRounders(t ggml.Type, w []float64, rows, cols int, imatrix []float32) ([]ggml.Rounder, error) {
	out := make([]ggml.Rounder, rows)
	row := make([]float32, cols)
	for r := range out {
		for c, v := range w[r*cols : (r+1)*cols] {
			row[c] = float32(v)
		}
		var err error
		if out[r], err = t.NewRounder(row, imatrix); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// zeroDeadColumns handles inputs that were never non-zero in calibration:
// they carry no loss, so their weights are zeroed and their Hessian
// diagonal set to 1 to keep H invertible.
func zeroDeadColumns(w, h []float64, rows, n int) {
	for i := 0; i < n; i++ {
		if h[i*n+i] == 0 {
			h[i*n+i] = 1
			for r := 0; r < rows; r++ {
				w[r*n+i] = 0
			}
		}
	}
}
