package gguf_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/runtime/gguf"
)

// This file is a test-only GGUF writer: testFile.build lays out a byte
// image from a list of key/values and tensors, exactly as llama.cpp's
// gguf writer does (header, KVs, tensor infos, padding to the alignment,
// each tensor's data padded to the alignment), and every field can be
// overridden to write a malformed file. A knob left at its zero value
// writes the field correctly.

// testKV is one metadata entry.
type testKV struct {
	Key string
	// Value is uint8, int8, uint16, int16, uint32, int32, float32, bool,
	// string, uint64, int64, float64, or a slice of one of them (an array).
	Value any

	// Corruption knobs.
	KeyBytes []byte  // key bytes written instead of Key (invalid UTF-8, ...)
	KeyLen   *uint64 // key length field instead of the real length
	Type     *uint32 // value type field instead of the one Value implies
	ElemType *uint32 // array element type field instead of the one Value implies
	Count    *uint64 // array count field instead of len(Value)
	StrLen   *uint64 // length field of a string value (of each string of a string array)
	Raw      []byte  // if non-nil, written after the type field instead of the encoded value
}

// testTensor is one tensor.
type testTensor struct {
	Name string
	Dims []uint64 // ggml order: Dims[0] is the row length
	Type ggml.Type
	// Data is the tensor's bytes; nil means zeros of the size Type and
	// Dims imply (none if they imply no sensible size).
	Data []byte

	// Corruption knobs.
	NameBytes []byte  // name bytes written instead of Name
	NameLen   *uint64 // name length field instead of the real length
	NDims     *uint32 // n_dims field instead of len(Dims)
	Offset    *uint64 // offset field instead of where build put the data
}

// testFile is a whole file.
type testFile struct {
	Magic   string // "" writes "GGUF"
	Version uint32 // 0 writes 3
	KVs     []testKV
	Tensors []testTensor

	// Corruption knobs.
	NTensors, NKV *uint64 // header counts instead of the real ones
	// Align is the padding build uses; 0 means general.alignment's value
	// when it is a uint32 power of two, else gguf.DefaultAlignment.
	Align int64
	// NoData stops the image after the tensor infos (no padding, no data).
	NoData bool
}

// layout is where build put each part, as absolute byte offsets.
type layout struct {
	KV         []int // start of each key/value
	Info       []int // start of each tensor info
	InfoEnd    int   // end of the tensor infos
	Data       int   // start of the data section
	TensorData []int // start of each tensor's data
	End        int   // len(image)
}

func ptr[T any](v T) *T { return &v }

func (f testFile) alignment() int64 {
	if f.Align > 0 {
		return f.Align
	}
	for _, kv := range f.KVs {
		if a, ok := kv.Value.(uint32); ok && kv.Key == "general.alignment" && a != 0 && a&(a-1) == 0 {
			return int64(a)
		}
	}
	return gguf.DefaultAlignment
}

// tensorSize is the size Type and Dims imply, or 0 if they imply none
// sensible (the malformed cases).
func tensorSize(t testTensor) int {
	if len(t.Dims) == 0 {
		return 0
	}
	rows := uint64(1)
	for _, d := range t.Dims[1:] {
		if d == 0 || d > 1<<20 || rows*d > 1<<20 {
			return 0
		}
		rows *= d
	}
	if t.Dims[0] > 1<<20 {
		return 0
	}
	rb, err := t.Type.RowBytes(int64(t.Dims[0]))
	if err != nil || rb <= 0 || uint64(rb)*rows > 1<<24 {
		return 0
	}
	return int(uint64(rb) * rows)
}

type writer struct{ bytes.Buffer }

func (w *writer) u32(x uint32) { binary.Write(&w.Buffer, binary.LittleEndian, x) }
func (w *writer) u64(x uint64) { binary.Write(&w.Buffer, binary.LittleEndian, x) }

func (w *writer) str(s []byte, lenField *uint64) {
	n := uint64(len(s))
	if lenField != nil {
		n = *lenField
	}
	w.u64(n)
	w.Write(s)
}

// valueType is the GGUF type of a Go value (a slice: array and element).
func valueType(v any) (typ, elem gguf.ValueType) {
	switch v.(type) {
	case uint8:
		return gguf.TypeUint8, 0
	case int8:
		return gguf.TypeInt8, 0
	case uint16:
		return gguf.TypeUint16, 0
	case int16:
		return gguf.TypeInt16, 0
	case uint32:
		return gguf.TypeUint32, 0
	case int32:
		return gguf.TypeInt32, 0
	case float32:
		return gguf.TypeFloat32, 0
	case bool:
		return gguf.TypeBool, 0
	case string:
		return gguf.TypeString, 0
	case uint64:
		return gguf.TypeUint64, 0
	case int64:
		return gguf.TypeInt64, 0
	case float64:
		return gguf.TypeFloat64, 0
	case []uint8:
		return gguf.TypeArray, gguf.TypeUint8
	case []int8:
		return gguf.TypeArray, gguf.TypeInt8
	case []uint16:
		return gguf.TypeArray, gguf.TypeUint16
	case []int16:
		return gguf.TypeArray, gguf.TypeInt16
	case []uint32:
		return gguf.TypeArray, gguf.TypeUint32
	case []int32:
		return gguf.TypeArray, gguf.TypeInt32
	case []float32:
		return gguf.TypeArray, gguf.TypeFloat32
	case []bool:
		return gguf.TypeArray, gguf.TypeBool
	case []string:
		return gguf.TypeArray, gguf.TypeString
	case []uint64:
		return gguf.TypeArray, gguf.TypeUint64
	case []int64:
		return gguf.TypeArray, gguf.TypeInt64
	case []float64:
		return gguf.TypeArray, gguf.TypeFloat64
	}
	panic(fmt.Sprintf("testKV: no GGUF type for %T", v))
}

// scalar writes one non-string scalar.
func (w *writer) scalar(v any) {
	if b, ok := v.(bool); ok {
		if b {
			w.WriteByte(1)
		} else {
			w.WriteByte(0)
		}
		return
	}
	if err := binary.Write(&w.Buffer, binary.LittleEndian, v); err != nil {
		panic(err)
	}
}

func (w *writer) keyValue(kv testKV) {
	key := []byte(kv.Key)
	if kv.KeyBytes != nil {
		key = kv.KeyBytes
	}
	w.str(key, kv.KeyLen)
	typ, elem := valueType(kv.Value)
	if kv.Type != nil {
		typ = gguf.ValueType(*kv.Type)
	}
	w.u32(uint32(typ))
	if kv.Raw != nil {
		w.Write(kv.Raw)
		return
	}
	switch v := kv.Value.(type) {
	case string:
		w.str([]byte(v), kv.StrLen)
		return
	case []string:
		w.arrayHeader(kv, elem, len(v))
		for _, s := range v {
			w.str([]byte(s), kv.StrLen)
		}
		return
	}
	if typ, _ := valueType(kv.Value); typ != gguf.TypeArray {
		w.scalar(kv.Value)
		return
	}
	// A numeric or bool array: binary.Write writes the whole slice, except
	// for []bool, which it writes as one byte per element too.
	n := lenOf(kv.Value)
	w.arrayHeader(kv, elem, n)
	w.scalar(kv.Value)
}

func lenOf(v any) int {
	switch s := v.(type) {
	case []uint8:
		return len(s)
	case []int8:
		return len(s)
	case []uint16:
		return len(s)
	case []int16:
		return len(s)
	case []uint32:
		return len(s)
	case []int32:
		return len(s)
	case []float32:
		return len(s)
	case []bool:
		return len(s)
	case []uint64:
		return len(s)
	case []int64:
		return len(s)
	case []float64:
		return len(s)
	case []string:
		return len(s)
	}
	panic(fmt.Sprintf("lenOf %T", v))
}

func (w *writer) arrayHeader(kv testKV, elem gguf.ValueType, n int) {
	if kv.ElemType != nil {
		elem = gguf.ValueType(*kv.ElemType)
	}
	w.u32(uint32(elem))
	c := uint64(n)
	if kv.Count != nil {
		c = *kv.Count
	}
	w.u64(c)
}

func (w *writer) pad(align int64) {
	for int64(w.Len())%align != 0 {
		w.WriteByte(0)
	}
}

// build writes the image and says where each part is.
func (f testFile) build() ([]byte, layout) {
	var w writer
	var lay layout
	magic := f.Magic
	if magic == "" {
		magic = gguf.Magic
	}
	w.WriteString(magic)
	version := f.Version
	if version == 0 {
		version = 3
	}
	w.u32(version)
	nt, nkv := uint64(len(f.Tensors)), uint64(len(f.KVs))
	if f.NTensors != nil {
		nt = *f.NTensors
	}
	if f.NKV != nil {
		nkv = *f.NKV
	}
	w.u64(nt)
	w.u64(nkv)
	for _, kv := range f.KVs {
		lay.KV = append(lay.KV, w.Len())
		w.keyValue(kv)
	}

	// Lay the data out first so that the infos can carry the offsets.
	align := f.alignment()
	var data writer
	offsets := make([]uint64, len(f.Tensors))
	for i, t := range f.Tensors {
		data.pad(align)
		offsets[i] = uint64(data.Len())
		if t.Data != nil {
			data.Write(t.Data)
		} else {
			data.Write(make([]byte, tensorSize(t)))
		}
	}
	for i, t := range f.Tensors {
		lay.Info = append(lay.Info, w.Len())
		name := []byte(t.Name)
		if t.NameBytes != nil {
			name = t.NameBytes
		}
		w.str(name, t.NameLen)
		nd := uint32(len(t.Dims))
		if t.NDims != nil {
			nd = *t.NDims
		}
		w.u32(nd)
		for _, d := range t.Dims {
			w.u64(d)
		}
		w.u32(uint32(t.Type))
		off := offsets[i]
		if t.Offset != nil {
			off = *t.Offset
		}
		w.u64(off)
	}
	lay.InfoEnd = w.Len()
	if f.NoData {
		lay.Data, lay.End = w.Len(), w.Len()
		return w.Bytes(), lay
	}
	w.pad(align)
	lay.Data = w.Len()
	for _, off := range offsets {
		lay.TensorData = append(lay.TensorData, lay.Data+int(off))
	}
	w.Write(data.Bytes())
	lay.End = w.Len()
	return w.Bytes(), lay
}

// le32 and le64 are little-endian encodings, for Raw values.
func le32(xs ...uint32) []byte {
	b := make([]byte, 0, 4*len(xs))
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

func le64(x uint64) []byte { return binary.LittleEndian.AppendUint64(nil, x) }

// filled is n bytes counting up from seed, so that a tensor's bytes are
// distinguishable from its neighbours'.
func filled(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i)
	}
	return b
}

// f32bytes encodes float32s as a tensor's data.
func f32bytes(xs ...float32) []byte {
	b := make([]byte, 0, 4*len(xs))
	for _, x := range xs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}
