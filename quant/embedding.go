package quant

import (
	"fmt"

	"github.com/hyquant/hyquant/kernels"
)

// QuantEmbedding is a token embedding table held as a QMatrix (one row a
// token). It implements runtime.Embedder, dequantising one row per lookup
// with the values of Q.Dequantize.
type QuantEmbedding struct {
	Q *kernels.QMatrix
}

// NewQuantEmbedding validates q.
func NewQuantEmbedding(q *kernels.QMatrix) (*QuantEmbedding, error) {
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("quant.NewQuantEmbedding: %v", err)
	}
	return &QuantEmbedding{Q: q}, nil
}

// Row writes the embedding of token id into dst (Q.Cols values).
func (e *QuantEmbedding) Row(dst []float32, id int) {
	q := e.Q
	if id < 0 || id >= q.Rows || len(dst) < q.Cols {
		panic(fmt.Sprintf("quant.QuantEmbedding.Row: token %d of %d, dst of %d for %d values", id, q.Rows, len(dst), q.Cols))
	}
	rb := q.RowBytes()
	codes := kernels.UnpackCodes(q.Codes[id*rb:(id+1)*rb], 1, q.Cols, q.Bits)
	for c, code := range codes {
		g := 0
		if !q.PerTensor {
			g = id*q.Groups() + c/q.GroupSize
		}
		zero := int32(1) << (q.Bits - 1)
		if q.Zeros != nil {
			zero = int32(q.Zeros[g])
		}
		dst[c] = q.Scales[g] * float32(int32(code)-zero)
	}
}
