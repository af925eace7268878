package kernels

import "fmt"

// GroupFormat is hyquant's own group format as a Format: Bits-bit codes
// with one scale per GroupSize consecutive values of a row (GroupSize ==
// cols for one per output channel), fp16 scales, symmetric (implicit zero
// point 2^(Bits-1)) or with a zero point per scale. Its packed row is the
// row's bit-packed codes, then its scales, then (asymmetric) its zero
// points, one byte each: the same numbers a QMatrix holds in three slices
// (QMatrix.DecodeRow computes with those directly).
type GroupFormat struct {
	Bits, GroupSize int
	Asymmetric      bool
}

// Name is "hyquant-w<bits>g<group>" (+ "a" when asymmetric).
func (g GroupFormat) Name() string {
	s := fmt.Sprintf("hyquant-w%dg%d", g.Bits, g.GroupSize)
	if g.Asymmetric {
		s += "a"
	}
	return s
}

// BlockSize is the group size.
func (g GroupFormat) BlockSize() int { return g.GroupSize }

// RowBytes is codes, fp16 scales and zero points of one row.
func (g GroupFormat) RowBytes(cols int) (int, error) {
	if err := g.check(cols); err != nil {
		return 0, err
	}
	groups := cols / g.GroupSize
	n := (cols*g.Bits+7)/8 + 2*groups
	if g.Asymmetric {
		n += groups
	}
	return n, nil
}

func (g GroupFormat) check(cols int) error {
	if g.Bits < 2 || g.Bits > 8 || g.GroupSize <= 0 || cols <= 0 || cols%g.GroupSize != 0 {
		return fmt.Errorf("%s: %d-bit codes in groups of %d cannot pack a row of %d", g.Name(), g.Bits, g.GroupSize, cols)
	}
	return nil
}

// Matrix unpacks the scales and zero points of data into a QMatrix that
// decodes straight from the codes.
func (g GroupFormat) Matrix(data []byte, rows, cols int) (RowDecoder, error) {
	rb, err := g.RowBytes(cols)
	if err != nil {
		return nil, err
	}
	if len(data) != rows*rb {
		return nil, fmt.Errorf("%s: %d bytes, a %d×%d matrix needs %d", g.Name(), len(data), rows, cols, rows*rb)
	}
	groups, cb := cols/g.GroupSize, (cols*g.Bits+7)/8
	q := &QMatrix{Rows: rows, Cols: cols, Bits: g.Bits, GroupSize: g.GroupSize,
		Codes: make([]byte, 0, rows*cb), Scales: make([]float32, 0, rows*groups)}
	if g.Asymmetric {
		q.Zeros = make([]uint8, 0, rows*groups)
	}
	for r := 0; r < rows; r++ {
		row := data[r*rb : (r+1)*rb]
		q.Codes = append(q.Codes, row[:cb]...)
		for i := 0; i < groups; i++ {
			q.Scales = append(q.Scales, fp16ToFloat32(uint16(row[cb+2*i])|uint16(row[cb+2*i+1])<<8))
		}
		if g.Asymmetric {
			q.Zeros = append(q.Zeros, row[cb+2*groups:]...)
		}
	}
	if err := q.Validate(); err != nil {
		return nil, err
	}
	return q, nil
}

// BlockSize is the values that share a scale (Cols when PerTensor).
func (q *QMatrix) BlockSize() int {
	if q.PerTensor {
		return q.Cols
	}
	return q.GroupSize
}

// DecodeRow writes columns c0 … c0+len(dst)-1 of row r, dequantised
// exactly as Dequantize and the QLinear packers do (q as a RowDecoder).
func (q *QMatrix) DecodeRow(dst []float32, r, c0 int) {
	rb := q.RowBytes()
	row := q.Codes[r*rb : (r+1)*rb]
	for p := c0; p < c0+len(dst); {
		g := q.scaleIndex(r, p)
		end := c0 + len(dst)
		if !q.PerTensor {
			end = min(end, (p/q.GroupSize+1)*q.GroupSize)
		}
		dequantRun(dst[p-c0:], 1, row, p, end-p, q.Bits, q.Scales[g], q.zero(g))
		p = end
	}
}
