package kernels

// QMatrix is a weight matrix (Rows outputs × Cols inputs) stored as Bits-bit
// unsigned integer codes. Each group of GroupSize consecutive columns of a row
// shares one scale and, when asymmetric, one zero point; with PerTensor the
// whole matrix shares a single scale (and zero point).
//
// Dequantisation: w[r][c] = Scales[g] * (code[r][c] - zero[g]), where g is the
// scale index of (r, c) and zero[g] = Zeros[g] when Zeros is non-nil, else the
// implicit symmetric zero 2^(Bits-1).
//
// Codes are packed row by row: each row is a little-endian, least-significant
// bit first stream of Cols codes of Bits bits, padded to a whole byte, so a row
// takes RowBytes() bytes (8 bits: one byte a code; 4 bits: two codes a byte,
// the first code in the low nibble).
type QMatrix struct {
	Rows, Cols int
	Bits       int  // 2..8
	GroupSize  int  // divides Cols; == Cols for one scale per output channel
	PerTensor  bool // one scale (and zero) for the whole matrix; GroupSize ignored
	Codes      []byte
	// Scales holds Rows*Groups() values (1 when PerTensor), row-major, already
	// rounded to the storage dtype (fp16, bf16 or fp32) they are written in.
	Scales []float32
	// Zeros holds one code per scale for asymmetric quantisation; nil when
	// symmetric. Held unpacked in memory; packed at Bits bits on disk.
	Zeros []uint8
}

// Groups is the number of scale groups per row (1 when PerTensor).
func (q *QMatrix) Groups() int {
	if q.PerTensor {
		return 1
	}
	return q.Cols / q.GroupSize
}

// RowBytes is the number of bytes one packed row of codes takes.
func (q *QMatrix) RowBytes() int { return (q.Cols*q.Bits + 7) / 8 }
