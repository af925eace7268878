package kernels

import (
	"fmt"
	"sync"

	"github.com/hyquant/hyquant/internal/parallel"
)

// RowDecoder is a weight matrix in a block format (llama.cpp's Q4_K,
// IQ2_XS, ... or any other) that can dequantise runs of one row. It is the
// whole contract between a packed format and the GEMM/GEMV drivers: a new
// format needs only this.
type RowDecoder interface {
	// BlockSize is the number of consecutive values of a row that decode
	// together; it divides the row length.
	BlockSize() int
	// DecodeRow writes the values of row r, columns c0 … c0+len(dst)-1, to
	// dst; c0 and len(dst) are multiples of BlockSize. It must be safe for
	// concurrent use.
	DecodeRow(dst []float32, r, c0 int)
}

// DecodedLinear is a Linear over a RowDecoder whose weights stay packed:
// each B panel of the GEMM (and each run of rows of the GEMV) is decoded
// from the blocks when it is needed, one L2-sized block at a time, so no
// float copy of the matrix is ever made.
type DecodedLinear struct {
	dec      RowDecoder
	out, in  int
	bias     []float32
	blockLen int
}

// NewDecodedLinear returns the Linear y = x·Wᵀ (+ bias) for the out×in
// matrix W that dec decodes. It reports an error if the block size does not
// divide in or the bias has the wrong length.
func NewDecodedLinear(dec RowDecoder, out, in int, bias []float32) (*DecodedLinear, error) {
	b := dec.BlockSize()
	if out <= 0 || in <= 0 || b <= 0 || in%b != 0 {
		return nil, fmt.Errorf("kernels.NewDecodedLinear: %d×%d matrix with %d-value blocks: sizes must be positive and the block size must divide the row length", out, in, b)
	}
	if bias != nil && len(bias) != out {
		return nil, fmt.Errorf("kernels.NewDecodedLinear: bias has %d values, want %d", len(bias), out)
	}
	return &DecodedLinear{dec: dec, out: out, in: in, bias: bias, blockLen: b}, nil
}

// In is the input width.
func (l *DecodedLinear) In() int { return l.in }

// Out is the output width.
func (l *DecodedLinear) Out() int { return l.out }

// Bias returns the bias (nil for none).
func (l *DecodedLinear) Bias() []float32 { return l.bias }

// Decoder returns the packed weights.
func (l *DecodedLinear) Decoder() RowDecoder { return l.dec }

// Apply computes y[n×Out] = x[n×In]·Wᵀ + bias.
func (l *DecodedLinear) Apply(y, x []float32, n int) {
	checkApply(l, y, x, n)
	gemm(currentKernel(), y, l.out, x, l.in, decodedOperand{l}, n, l.out, l.in, l.bias)
}

// Dequantize returns the whole matrix as float32 (for tests and tools).
func (l *DecodedLinear) Dequantize() []float32 {
	w := make([]float32, l.out*l.in)
	for r := 0; r < l.out; r++ {
		l.dec.DecodeRow(w[r*l.in:(r+1)*l.in], r, 0)
	}
	return w
}

type decodedOperand struct{ l *DecodedLinear }

// decodeBuffers hold one decoded run of a row (the GEMM's kc values rounded
// out to whole blocks).
var decodeBuffers = sync.Pool{New: func() any { return new([]float32) }}

func (o decodedOperand) block(buf []float32, nr, j0, nc, p0, kc int) ([]float32, int) {
	return packBlock(o, buf, nr, j0, nc, p0, kc)
}

// packPanel decodes rows j0…j0+w-1 over the whole blocks that cover columns
// p0…p0+kc-1 into a scratch buffer, row after row, then writes them
// transposed into the kc×nr panel: a panel row at a time, so the writes
// are contiguous and the w rows being read stay in L1.
func (o decodedOperand) packPanel(dst []float32, nr, j0, w, p0, kc int) {
	b := o.l.blockLen
	a0 := p0 / b * b
	span := min(o.l.in, (p0+kc+b-1)/b*b) - a0
	bp := decodeBuffers.Get().(*[]float32)
	defer decodeBuffers.Put(bp)
	if cap(*bp) < w*span {
		*bp = make([]float32, nr*span)
	}
	rows := (*bp)[:w*span]
	for j := 0; j < w; j++ {
		o.l.dec.DecodeRow(rows[j*span:(j+1)*span], j0+j, a0)
	}
	off := p0 - a0
	for p := 0; p < kc; p++ {
		d := dst[p*nr : p*nr+w]
		src := rows[off+p:]
		for j := range d {
			d[j] = src[j*span]
		}
	}
	zeroColumns(dst, nr, w, kc)
}

// dot4 decodes up to four rows into buf and takes the float32 dot products.
func (o decodedOperand) dot4(buf []float32, j, cnt, p0, kc int, x *[4]*float32, res *[16]float32) {
	var w [4]*float32
	for r := 0; r < 4; r++ {
		if r >= cnt {
			w[r] = w[cnt-1]
			continue
		}
		seg := buf[r*kc : (r+1)*kc]
		if p0%o.l.blockLen == 0 && kc%o.l.blockLen == 0 {
			o.l.dec.DecodeRow(seg, j+r, p0)
		} else {
			o.decodeUnaligned(seg, j+r, p0)
		}
		w[r] = &seg[0]
	}
	gemvF32(kc, &w, x, res)
}

func (o decodedOperand) decodeUnaligned(dst []float32, r, p0 int) {
	b := o.l.blockLen
	a0 := p0 / b * b
	a1 := min(o.l.in, (p0+len(dst)+b-1)/b*b)
	tmp := make([]float32, a1-a0)
	o.l.dec.DecodeRow(tmp, r, a0)
	copy(dst, tmp[p0-a0:])
}

// Predecoded returns l with its rows decoded once into float32 and, for
// products of more than smallMRows rows, packed once into GEMM panels as a
// Dense (out·in·4 bytes each): the same products bit for bit (the GEMM
// and GEMV run the same blocking over the same values), without decoding
// and packing the weights again in every product. For passes that run
// one layer over many inputs at once, such as calibration's segments,
// each of which would decode and pack it (and with several threads per
// product, each row band of the split its own copy).
func (l *DecodedLinear) Predecoded() Linear {
	w := make([]float32, l.out*l.in)
	parallel.For(l.out, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			l.dec.DecodeRow(w[r*l.in:(r+1)*l.in], r, 0)
		}
	})
	rows := &DecodedLinear{dec: decodedRows{w: w, in: l.in, block: l.blockLen}, out: l.out, in: l.in, bias: l.bias, blockLen: l.blockLen}
	return &predecoded{rows: rows, dense: NewDense(w, l.out, l.in, l.bias)}
}

// predecoded is a DecodedLinear's weights decoded (rows) and packed
// (dense). Up to smallMRows rows the GEMM's reduction slices depend on
// the row count (see blocking), which a Dense's packing fixes, so those
// products run on the decoded rows; beyond it both block alike.
type predecoded struct {
	rows  *DecodedLinear
	dense *Dense
}

func (p *predecoded) In() int         { return p.rows.in }
func (p *predecoded) Out() int        { return p.rows.out }
func (p *predecoded) Bias() []float32 { return p.rows.bias }

func (p *predecoded) Apply(y, x []float32, n int) {
	if n > smallMRows && p.dense.mk == currentKernel() {
		p.dense.Apply(y, x, n)
		return
	}
	p.rows.Apply(y, x, n)
}

// decodedRows is a RowDecoder over float32 rows decoded ahead of time.
type decodedRows struct {
	w         []float32
	in, block int
}

func (d decodedRows) BlockSize() int { return d.block }

func (d decodedRows) DecodeRow(dst []float32, r, c0 int) {
	copy(dst, d.w[r*d.in+c0:r*d.in+c0+len(dst)])
}
