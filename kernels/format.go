package kernels

import (
	"fmt"
	"sort"
	"sync"
)

// Format is a packed weight format, the one seam between a storage layout
// and the compute: a row of a matrix is cut into blocks of BlockSize
// values, a rows×cols matrix takes rows·RowBytes(cols) bytes, and Matrix
// views packed bytes as a RowDecoder, which NewDecodedLinear (and
// NewFormatLinear) apply to float32 activations as GEMM or GEMV without
// ever unpacking the whole matrix. llama.cpp's block types register one
// Format each (package kernels/ggml); hyquant's group format is GroupFormat.
// A new format is one file that implements this and registers itself.
type Format interface {
	// Name identifies the format: "q4_K", "iq2_xs", "bf16", "hyquant-w4g128".
	Name() string
	// BlockSize is the number of consecutive values of a row that decode
	// together; rows must be a whole number of blocks.
	BlockSize() int
	// RowBytes is the size of one packed row of cols values, or an error if
	// cols is not a whole number of blocks.
	RowBytes(cols int) (int, error)
	// Matrix views rows·RowBytes(cols) bytes of packed data as a matrix.
	Matrix(data []byte, rows, cols int) (RowDecoder, error)
}

// FormatQuantizer is a Format that also quantises float32 rows into
// itself (llama.cpp's types with llama-quantize's rounding).
type FormatQuantizer interface {
	Format
	// Quantize writes rows×cols values of src (row-major) as packed rows to
	// dst (rows·RowBytes(cols) bytes), weighting the rounding by importance
	// (one weight per column) when it is not nil.
	Quantize(dst []byte, src []float32, rows, cols int, importance []float32) error
}

var (
	formatMu  sync.RWMutex
	formatReg = map[string]Format{}
)

// RegisterFormat adds a format to the registry under its Name; registering
// a name twice panics (a programming error).
func RegisterFormat(f Format) {
	formatMu.Lock()
	defer formatMu.Unlock()
	if _, dup := formatReg[f.Name()]; dup {
		panic("kernels: format " + f.Name() + " registered twice")
	}
	formatReg[f.Name()] = f
}

// LookupFormat finds a format by name: a registered one, or a GroupFormat
// by its name ("hyquant-w4g128", "hyquant-w3g64a").
func LookupFormat(name string) (Format, bool) {
	formatMu.RLock()
	f, ok := formatReg[name]
	formatMu.RUnlock()
	if ok {
		return f, true
	}
	var g GroupFormat
	var rest string
	if n, _ := fmt.Sscanf(name, "hyquant-w%dg%d%s", &g.Bits, &g.GroupSize, &rest); n >= 2 && (rest == "" || rest == "a") {
		g.Asymmetric = rest == "a"
		if g.Name() == name && g.check(g.GroupSize) == nil {
			return g, true
		}
	}
	return nil, false
}

// FormatNames lists the registered formats, sorted.
func FormatNames() []string {
	formatMu.RLock()
	defer formatMu.RUnlock()
	names := make([]string, 0, len(formatReg))
	for n := range formatReg {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// MatrixBytes is the size of a rows×cols matrix in format f.
func MatrixBytes(f Format, rows, cols int) (int64, error) {
	rb, err := f.RowBytes(cols)
	if err != nil {
		return 0, err
	}
	return int64(rows) * int64(rb), nil
}

// NewFormatLinear is the Linear y = x·Wᵀ (+ bias) over the out×in matrix W
// packed in format f.
func NewFormatLinear(f Format, data []byte, out, in int, bias []float32) (*DecodedLinear, error) {
	dec, err := f.Matrix(data, out, in)
	if err != nil {
		return nil, fmt.Errorf("%s matrix %d×%d: %w", f.Name(), out, in, err)
	}
	return NewDecodedLinear(dec, out, in, bias)
}
