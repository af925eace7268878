package kernels

import "fmt"

// QLinear is a Linear over a QMatrix that stays packed: each B panel of the
// GEMM is dequantised from the codes while it is packed, so a 4-bit weight
// takes half a byte of memory and is widened to float32 only one L2-sized
// block at a time. Bits 8 and 4 have fast paths; 2, 3, 5, 6 and 7 bits go
// through a generic bit-stream decoder. The values used are exactly those of
// q.Dequantize().
type QLinear struct {
	q    *QMatrix
	bias []float32
}

// NewQLinear returns a Linear over q (Rows outputs × Cols inputs) with
// optional bias (nil or q.Rows values). It reports an error if q does not
// Validate or the bias has the wrong length. q must not change afterwards.
func NewQLinear(q *QMatrix, bias []float32) (*QLinear, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if bias != nil && len(bias) != q.Rows {
		return nil, fmt.Errorf("kernels.NewQLinear: bias has %d values, want %d", len(bias), q.Rows)
	}
	return &QLinear{q: q, bias: bias}, nil
}

// In is the input width, q.Cols.
func (l *QLinear) In() int { return l.q.Cols }

// Out is the output width, q.Rows.
func (l *QLinear) Out() int { return l.q.Rows }

// QMatrix returns the packed weights.
func (l *QLinear) QMatrix() *QMatrix { return l.q }

// Bias returns the bias (nil for none).
func (l *QLinear) Bias() []float32 { return l.bias }

// Apply computes y[n×Out] = x[n×In]·Wᵀ + bias with W = q.Dequantize().
func (l *QLinear) Apply(y, x []float32, n int) {
	checkApply(l, y, x, n)
	gemm(currentKernel(), y, l.q.Rows, x, l.q.Cols, qOperand{l.q}, n, l.q.Rows, l.q.Cols, l.bias)
}

// qOperand dequantises a QMatrix into B panels.
type qOperand struct{ q *QMatrix }

func (o qOperand) block(buf []float32, nr, j0, nc, p0, kc int) ([]float32, int) {
	return packBlock(o, buf, nr, j0, nc, p0, kc)
}

// packPanel dequantises rows j0…j0+w-1, columns p0…p0+kc-1 of the matrix
// into the kc×nr panel dst, one run of columns sharing a scale at a time.
func (o qOperand) packPanel(dst []float32, nr, j0, w, p0, kc int) {
	q := o.q
	rb := q.RowBytes()
	done := packQuantAsm(dst, nr, q, j0, w, p0, kc)
	for j := done; j < w; j++ {
		r := j0 + j
		row := q.Codes[r*rb : (r+1)*rb]
		for p := p0; p < p0+kc; {
			g := q.scaleIndex(r, p)
			end := p0 + kc
			if !q.PerTensor {
				end = min(end, (p/q.GroupSize+1)*q.GroupSize)
			}
			dequantRun(dst[(p-p0)*nr+j:], nr, row, p, end-p, q.Bits, q.Scales[g], q.zero(g))
			p = end
		}
	}
	zeroColumns(dst, nr, w, kc)
}

// dequantRun writes n dequantised codes of row, starting at code c0, into
// dst[0], dst[stride], dst[2·stride], …
func dequantRun(dst []float32, stride int, row []byte, c0, n, bits int, scale float32, zero int32) {
	_ = dst[(n-1)*stride]
	switch bits {
	case 8:
		for i, v := range row[c0 : c0+n] {
			dst[i*stride] = scale * float32(int32(v)-zero)
		}
	case 4:
		for i := 0; i < n; i++ {
			c := c0 + i
			v := row[c>>1] >> (uint(c&1) * 4) & 15
			dst[i*stride] = scale * float32(int32(v)-zero)
		}
	default:
		mask := uint16(1)<<bits - 1
		for i := 0; i < n; i++ {
			o := (c0 + i) * bits
			x := uint16(row[o>>3])
			if o&7+bits > 8 {
				x |= uint16(row[o>>3+1]) << 8
			}
			dst[i*stride] = scale * float32(int32(x>>(o&7)&mask)-zero)
		}
	}
}
