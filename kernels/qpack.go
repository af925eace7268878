package kernels

import (
	"errors"
	"fmt"
	"math"

	"github.com/hyquant/hyquant/internal/parallel"
)

// Operations on QMatrix (declared in qmatrix.go): validation, the reference
// dequantisation, and the bit packing of codes that quantisers use to build
// one.

// Validate reports the first inconsistency of q: sizes that are not
// positive, Bits outside 2..8, a GroupSize that does not divide Cols, Codes,
// Scales or Zeros of the wrong length, a zero point that does not fit in
// Bits bits, or a scale that is not finite.
func (q *QMatrix) Validate() error {
	if q == nil {
		return errors.New("kernels: nil QMatrix")
	}
	if q.Rows <= 0 || q.Cols <= 0 {
		return fmt.Errorf("kernels: QMatrix is %d×%d, sizes must be positive", q.Rows, q.Cols)
	}
	if q.Bits < 2 || q.Bits > 8 {
		return fmt.Errorf("kernels: QMatrix has Bits=%d, want 2..8", q.Bits)
	}
	if !q.PerTensor {
		if q.GroupSize <= 0 || q.Cols%q.GroupSize != 0 {
			return fmt.Errorf("kernels: QMatrix GroupSize=%d does not divide Cols=%d", q.GroupSize, q.Cols)
		}
	}
	if want := q.Rows * q.RowBytes(); len(q.Codes) != want {
		return fmt.Errorf("kernels: QMatrix %d×%d at %d bits needs %d bytes of Codes (%d a row), has %d",
			q.Rows, q.Cols, q.Bits, want, q.RowBytes(), len(q.Codes))
	}
	nScales := 1
	if !q.PerTensor {
		nScales = q.Rows * q.Groups()
	}
	if len(q.Scales) != nScales {
		return fmt.Errorf("kernels: QMatrix needs %d Scales (%d rows × %d groups), has %d",
			nScales, q.Rows, q.Groups(), len(q.Scales))
	}
	for i, s := range q.Scales {
		if math.IsNaN(float64(s)) || math.IsInf(float64(s), 0) {
			return fmt.Errorf("kernels: QMatrix scale %d is %v", i, s)
		}
	}
	if q.Zeros != nil {
		if len(q.Zeros) != nScales {
			return fmt.Errorf("kernels: QMatrix has %d Zeros, want one per scale (%d)", len(q.Zeros), nScales)
		}
		for i, z := range q.Zeros {
			if int(z) >= 1<<q.Bits {
				return fmt.Errorf("kernels: QMatrix zero point %d is %d, does not fit in %d bits", i, z, q.Bits)
			}
		}
	}
	return nil
}

// scaleIndex is the index into Scales (and Zeros) of column c of row r.
func (q *QMatrix) scaleIndex(r, c int) int {
	if q.PerTensor {
		return 0
	}
	return r*(q.Cols/q.GroupSize) + c/q.GroupSize
}

// zero is the zero point of scale index g.
func (q *QMatrix) zero(g int) int32 {
	if q.Zeros != nil {
		return int32(q.Zeros[g])
	}
	return 1 << (q.Bits - 1)
}

// Dequantize returns the Rows×Cols float32 matrix q stands for,
// w[r][c] = Scales[g]·(code − zero[g]), computed in float32 exactly as the
// QLinear packers do. It is the reference implementation; it panics if q
// does not Validate.
func (q *QMatrix) Dequantize() []float32 {
	if err := q.Validate(); err != nil {
		panic(err)
	}
	codes := UnpackCodes(q.Codes, q.Rows, q.Cols, q.Bits)
	w := make([]float32, q.Rows*q.Cols)
	for r := 0; r < q.Rows; r++ {
		for c := 0; c < q.Cols; c++ {
			g := q.scaleIndex(r, c)
			w[r*q.Cols+c] = q.Scales[g] * float32(int32(codes[r*q.Cols+c])-q.zero(g))
		}
	}
	return w
}

// PackCodes packs rows×cols codes (row-major, each < 2^bits) into the QMatrix
// layout: per row a little-endian, least-significant-bit-first stream of
// bits-bit codes padded to a whole byte. It panics if bits is outside 2..8,
// codes has not rows·cols values, or a code does not fit.
func PackCodes(codes []uint8, rows, cols, bits int) []byte {
	checkCodes("PackCodes", len(codes), rows, cols, bits)
	rb := (cols*bits + 7) / 8
	out := make([]byte, rows*rb)
	bad := parallel.First(rows, max(1, (1<<16)/max(1, cols)), func(lo, hi int) int {
		for r := lo; r < hi; r++ {
			row := out[r*rb : (r+1)*rb]
			for c, v := range codes[r*cols : (r+1)*cols] {
				if int(v) >= 1<<bits {
					return r
				}
				o := c * bits
				x := uint16(v) << (o & 7)
				row[o>>3] |= byte(x)
				if hi := byte(x >> 8); hi != 0 {
					row[o>>3+1] |= hi
				}
			}
		}
		return -1
	})
	if bad >= 0 {
		for c, v := range codes[bad*cols : (bad+1)*cols] {
			if int(v) >= 1<<bits {
				panic(fmt.Sprintf("kernels.PackCodes: code %d at (%d,%d) does not fit in %d bits", v, bad, c, bits))
			}
		}
	}
	return out
}

// UnpackCodes is the inverse of PackCodes: it returns the rows·cols codes of
// packed, which must hold rows·ceil(cols·bits/8) bytes.
func UnpackCodes(packed []byte, rows, cols, bits int) []uint8 {
	checkCodes("UnpackCodes", rows*cols, rows, cols, bits)
	rb := (cols*bits + 7) / 8
	if len(packed) < rows*rb {
		panic(fmt.Sprintf("kernels.UnpackCodes: %d bytes, %d×%d codes at %d bits need %d", len(packed), rows, cols, bits, rows*rb))
	}
	codes := make([]uint8, rows*cols)
	for r := 0; r < rows; r++ {
		unpackRow(codes[r*cols:(r+1)*cols], packed[r*rb:(r+1)*rb], 0, bits)
	}
	return codes
}

// unpackRow decodes len(dst) codes of a packed row, starting at code c0.
func unpackRow(dst []uint8, row []byte, c0, bits int) {
	mask := uint16(1)<<bits - 1
	for i := range dst {
		o := (c0 + i) * bits
		x := uint16(row[o>>3])
		if o&7+bits > 8 {
			x |= uint16(row[o>>3+1]) << 8
		}
		dst[i] = uint8(x >> (o & 7) & mask)
	}
}

func checkCodes(op string, n, rows, cols, bits int) {
	if bits < 2 || bits > 8 {
		panic(fmt.Sprintf("kernels.%s: bits=%d, want 2..8", op, bits))
	}
	if rows < 0 || cols < 0 || n != rows*cols {
		panic(fmt.Sprintf("kernels.%s: %d codes for %d×%d", op, n, rows, cols))
	}
}
