// Package ggml holds llama.cpp's tensor types: one row of traits per type
// (name, block geometry, bytes per block, dequantisation), the way ggml's
// type_traits table does, so that a new format is one file that registers
// its row. The values are those of the GGUF file format; the
// dequantisations reproduce llama.cpp's bit for bit.
package ggml

import (
	"fmt"
	"math"
	"sort"

	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/kernels"
)

// Type is a ggml tensor type id as stored in a GGUF tensor info.
type Type uint32

// The type ids of the GGUF format (gaps are ids ggml has retired).
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
	MXFP4   Type = 39
)

// QK_K is the super-block size of the K-quants and i-quants.
const QK_K = 256

// Traits describes one type: its name, its block geometry and, for the
// types hyquant computes with, how a run of whole blocks dequantises.
type Traits struct {
	Type       Type
	Name       string // as llama.cpp prints it: "q4_K", "iq2_xxs", "bf16"
	BlockSize  int    // values per block
	BlockBytes int    // bytes per block
	// Dequantize writes len(src)/BlockBytes*BlockSize values to dst; src
	// holds whole blocks. Nil for types hyquant only sizes (Q8_1, IQ1_S, ...).
	Dequantize func(dst []float32, src []byte)
	// Quantize writes the blocks of one row of len(src) values (a whole
	// number of blocks) to dst, bit for bit as llama-quantize does: with
	// importance weights imatrix (one per column of the row, as llama.cpp's
	// imatrix holds them) when non-nil, else llama.cpp's reference rounding.
	// Nil for types hyquant does not quantise into.
	Quantize func(dst []byte, src []float32, imatrix []float32)
	// NewRounder makes the Rounder of one row (GPTQ's block-by-block,
	// value-by-value quantisation): row is the whole original row (a whole
	// number of blocks), imatrix its importance weights or nil. Nil for the
	// types without a quantiser.
	NewRounder func(row, imatrix []float32) Rounder
}

// table holds every type's traits; the format files fill in Dequantize
// from their init functions (register).
var table = map[Type]*Traits{
	F32:     {Name: "f32", BlockSize: 1, BlockBytes: 4},
	F16:     {Name: "f16", BlockSize: 1, BlockBytes: 2},
	Q4_0:    {Name: "q4_0", BlockSize: 32, BlockBytes: 2 + 16},
	Q4_1:    {Name: "q4_1", BlockSize: 32, BlockBytes: 2 + 2 + 16},
	Q5_0:    {Name: "q5_0", BlockSize: 32, BlockBytes: 2 + 4 + 16},
	Q5_1:    {Name: "q5_1", BlockSize: 32, BlockBytes: 2 + 2 + 4 + 16},
	Q8_0:    {Name: "q8_0", BlockSize: 32, BlockBytes: 2 + 32},
	Q8_1:    {Name: "q8_1", BlockSize: 32, BlockBytes: 4 + 4 + 32},
	Q2_K:    {Name: "q2_K", BlockSize: QK_K, BlockBytes: 2 + 2 + QK_K/16 + QK_K/4},
	Q3_K:    {Name: "q3_K", BlockSize: QK_K, BlockBytes: 2 + QK_K/4 + QK_K/8 + 12},
	Q4_K:    {Name: "q4_K", BlockSize: QK_K, BlockBytes: 2 + 2 + QK_K/2 + 12},
	Q5_K:    {Name: "q5_K", BlockSize: QK_K, BlockBytes: 2 + 2 + QK_K/2 + QK_K/8 + 12},
	Q6_K:    {Name: "q6_K", BlockSize: QK_K, BlockBytes: 2 + QK_K/2 + QK_K/4 + QK_K/16},
	Q8_K:    {Name: "q8_K", BlockSize: QK_K, BlockBytes: 4 + QK_K + QK_K/8},
	IQ2_XXS: {Name: "iq2_xxs", BlockSize: QK_K, BlockBytes: 2 + QK_K/4},
	IQ2_XS:  {Name: "iq2_xs", BlockSize: QK_K, BlockBytes: 2 + QK_K/4 + QK_K/32},
	IQ3_XXS: {Name: "iq3_xxs", BlockSize: QK_K, BlockBytes: 2 + QK_K/4 + QK_K/8},
	IQ1_S:   {Name: "iq1_s", BlockSize: QK_K, BlockBytes: 2 + QK_K/8 + QK_K/16},
	IQ4_NL:  {Name: "iq4_nl", BlockSize: 32, BlockBytes: 2 + 16},
	IQ3_S:   {Name: "iq3_s", BlockSize: QK_K, BlockBytes: 2 + QK_K/4 + QK_K/8 + QK_K/32 + 4},
	IQ2_S:   {Name: "iq2_s", BlockSize: QK_K, BlockBytes: 2 + QK_K/4 + QK_K/16},
	IQ4_XS:  {Name: "iq4_xs", BlockSize: QK_K, BlockBytes: 2 + 2 + QK_K/2 + QK_K/64},
	I8:      {Name: "i8", BlockSize: 1, BlockBytes: 1},
	I16:     {Name: "i16", BlockSize: 1, BlockBytes: 2},
	I32:     {Name: "i32", BlockSize: 1, BlockBytes: 4},
	I64:     {Name: "i64", BlockSize: 1, BlockBytes: 8},
	F64:     {Name: "f64", BlockSize: 1, BlockBytes: 8},
	IQ1_M:   {Name: "iq1_m", BlockSize: QK_K, BlockBytes: QK_K/8 + QK_K/16 + QK_K/32},
	BF16:    {Name: "bf16", BlockSize: 1, BlockBytes: 2},
	TQ1_0:   {Name: "tq1_0", BlockSize: QK_K, BlockBytes: 2 + 4*13},
	TQ2_0:   {Name: "tq2_0", BlockSize: QK_K, BlockBytes: 2 + 64},
	MXFP4:   {Name: "mxfp4", BlockSize: 32, BlockBytes: 1 + 16},
}

func init() {
	for t, tr := range table {
		tr.Type = t
	}
}

// register installs a type's dequantisation, and the type in kernels'
// format registry; called from the format files' init functions.
func register(t Type, dequantize func(dst []float32, src []byte)) {
	table[t].Dequantize = dequantize
	kernels.RegisterFormat(format{table[t]})
}

// registerQuantizer installs a type's quantisation; called from the
// quantiser files' init functions.
func registerQuantizer(t Type, quantize func(dst []byte, src []float32, imatrix []float32)) {
	table[t].Quantize = quantize
}

// Quantize quantises rows×cols values of src (row-major) into dst
// (rows·RowBytes(cols) bytes), each row as llama-quantize does,
// with per-column importance weights imatrix (cols values) or nil.
func (t Type) Quantize(dst []byte, src []float32, rows, cols int, imatrix []float32) error {
	tr, ok := table[t]
	if !ok {
		return fmt.Errorf("unknown ggml type id %d", uint32(t))
	}
	if tr.Quantize == nil {
		return fmt.Errorf("ggml type %s: hyquant cannot quantise into it", tr.Name)
	}
	rb, err := t.RowBytes(int64(cols))
	if err != nil {
		return err
	}
	if rows < 0 || len(src) != rows*cols || int64(len(dst)) != int64(rows)*rb {
		return fmt.Errorf("%s: %d values into %d bytes for a %d×%d matrix (needs %d values, %d bytes)", tr.Name, len(src), len(dst), rows, cols, rows*cols, int64(rows)*rb)
	}
	if imatrix != nil && len(imatrix) != cols {
		return fmt.Errorf("%s: importance matrix has %d values for rows of %d", tr.Name, len(imatrix), cols)
	}
	// Rows are independent, so they are quantised on every CPU, with the
	// same bytes as one at a time.
	parallel.For(rows, max(1, 4096/max(cols, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			tr.Quantize(dst[int64(r)*rb:int64(r+1)*rb], src[r*cols:(r+1)*cols], imatrix)
		}
	})
	return nil
}

// Lookup returns a type's traits; ok is false for an id GGUF does not define.
func Lookup(t Type) (tr *Traits, ok bool) {
	tr, ok = table[t]
	return tr, ok
}

// ParseType finds a type by its name (case-insensitive: "Q4_K", "q4_k").
func ParseType(name string) (Type, error) {
	for t, tr := range table {
		if equalFold(tr.Name, name) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown ggml type %q (known: %s)", name, typeNames())
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func typeNames() string {
	ts := Types()
	s := ""
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += table[t].Name
	}
	return s
}

// Types lists every defined type id in increasing order.
func Types() []Type {
	ts := make([]Type, 0, len(table))
	for t := range table {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts
}

// String is the type's llama.cpp name, or "type(N)" for an undefined id.
func (t Type) String() string {
	if tr, ok := table[t]; ok {
		return tr.Name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// RowBytes is the size of a row of cols values; cols must be a multiple of
// the block size.
func (t Type) RowBytes(cols int64) (int64, error) {
	tr, ok := table[t]
	if !ok {
		return 0, fmt.Errorf("unknown ggml type id %d", uint32(t))
	}
	if cols < 0 || cols%int64(tr.BlockSize) != 0 {
		return 0, fmt.Errorf("%s: a row of %d values is not a whole number of %d-value blocks", tr.Name, cols, tr.BlockSize)
	}
	if cols/int64(tr.BlockSize) > math.MaxInt64/int64(tr.BlockBytes) {
		return 0, fmt.Errorf("%s: a row of %d values overflows an int64 byte count", tr.Name, cols)
	}
	return cols / int64(tr.BlockSize) * int64(tr.BlockBytes), nil
}

// CanDequantize reports whether hyquant computes with this type.
func (t Type) CanDequantize() bool {
	tr, ok := table[t]
	return ok && tr.Dequantize != nil
}

// Dequantize converts whole blocks of src to float32 in dst, which must
// hold len(src)/BlockBytes*BlockSize values.
func (t Type) Dequantize(dst []float32, src []byte) error {
	tr, ok := table[t]
	if !ok {
		return fmt.Errorf("unknown ggml type id %d", uint32(t))
	}
	if tr.Dequantize == nil {
		return fmt.Errorf("ggml type %s: hyquant cannot compute with it (no dequantisation)", tr.Name)
	}
	if len(src)%tr.BlockBytes != 0 {
		return fmt.Errorf("%s: %d bytes are not a whole number of %d-byte blocks", tr.Name, len(src), tr.BlockBytes)
	}
	if n := len(src) / tr.BlockBytes * tr.BlockSize; len(dst) < n {
		return fmt.Errorf("%s: %d blocks need %d values of output, have %d", tr.Name, len(src)/tr.BlockBytes, n, len(dst))
	}
	tr.Dequantize(dst, src)
	return nil
}
