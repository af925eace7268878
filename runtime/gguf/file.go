// Package gguf reads GGUF files, llama.cpp's model format: a header (magic
// "GGUF", version, tensor and key/value counts), typed key/value metadata,
// tensor descriptions (name, dimensions, ggml type, offset), then the
// aligned tensor data.
//
// Reading is strict: every malformed file is rejected with an error naming
// the file and, where there is one, the key or tensor; never a panic. Every
// length is checked against what is left of the file before anything is
// allocated. Files are memory-mapped, so opening an 8B model costs no
// memory until its tensors are touched.
package gguf

import (
	"fmt"
	"os"

	mmap "github.com/edsrzf/mmap-go"

	"github.com/hyquant/hyquant/internal/mapped"
	"github.com/hyquant/hyquant/kernels/ggml"
)

// Magic is the first four bytes of a GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// Limits on what a header may declare, so that a corrupt count cannot make
// the reader allocate more than the file could describe.
const (
	MaxDims      = 4       // ggml tensors have at most 4 dimensions
	MaxStringLen = 1 << 30 // a single string
)

// Error is a malformed-file error naming the file and, if any, the key or
// tensor and the byte offset where reading stopped.
type Error struct {
	File   string
	Key    string // metadata key, if the error is in one
	Tensor string // tensor name, if the error is in one
	Offset int64
	Msg    string
}

func (e *Error) Error() string {
	where := ""
	switch {
	case e.Key != "":
		where = fmt.Sprintf("key %q: ", e.Key)
	case e.Tensor != "":
		where = fmt.Sprintf("tensor %q: ", e.Tensor)
	}
	return fmt.Sprintf("%s: %s%s (at byte %d)", e.File, where, e.Msg, e.Offset)
}

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name string
	// Dims in ggml order: Dims[0] is the fastest-varying (the row length);
	// a PyTorch shape is the reverse.
	Dims []int64
	Type ggml.Type
	// Offset is relative to the start of the data section; Size is the
	// bytes the type and dimensions imply.
	Offset, Size int64
}

// NumElements is the product of the dimensions.
func (t *TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Shape is the PyTorch (row-major, slowest first) shape: Dims reversed.
func (t *TensorInfo) Shape() []int64 {
	s := make([]int64, len(t.Dims))
	for i, d := range t.Dims {
		s[len(s)-1-i] = d
	}
	return s
}

// File is an opened GGUF file.
type File struct {
	Path      string
	Version   uint32
	Alignment int64
	// KV holds the metadata in file order.
	KV      []KV
	Tensors []TensorInfo
	// DataOffset is where the data section starts in the file.
	DataOffset int64

	kvIndex     map[string]int
	tensorIndex map[string]int
	data        []byte // the whole file
	mapped      mmap.MMap
}

// Open memory-maps and validates a GGUF file.
func Open(path string) (*File, error) {
	m, err := mapped.Open(path, 24)
	if short, ok := err.(*mapped.TooShort); ok {
		return nil, &Error{File: path, Msg: fmt.Sprintf("file is %d bytes, too short for a GGUF header (24 bytes)", short.Size)}
	}
	if err != nil {
		return nil, err
	}
	gf, err := Parse(path, m)
	if err != nil {
		m.Unmap()
		return nil, err
	}
	gf.mapped = m
	return gf, nil
}

// IsGGUF reports whether the file at path starts with the GGUF magic.
func IsGGUF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [4]byte
	n, _ := f.Read(b[:])
	return n == 4 && string(b[:]) == Magic
}

// Close unmaps the file; tensor data must not be used after.
func (f *File) Close() error {
	if f.mapped != nil {
		m := f.mapped
		f.mapped, f.data = nil, nil
		return m.Unmap()
	}
	return nil
}

// Parse validates a whole GGUF file held in data; name is used in errors.
// The File refers to data without copying.
func Parse(name string, data []byte) (*File, error) {
	r := &reader{file: name, b: data}
	f := &File{Path: name, data: data, kvIndex: map[string]int{}, tensorIndex: map[string]int{}}
	if err := f.parseHeader(r); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) parseHeader(r *reader) error {
	magic, err := r.bytes(4)
	if err != nil {
		return err
	}
	if string(magic) != Magic {
		return r.errorf("not a GGUF file: magic is %q, want %q", magic, Magic)
	}
	if f.Version, err = r.u32(); err != nil {
		return err
	}
	if f.Version != 2 && f.Version != 3 {
		return r.errorf("GGUF version %d is not supported (2 and 3 are)", f.Version)
	}
	nTensors, err := r.count("tensor count", 8+4+8+8) // smallest tensor info
	if err != nil {
		return err
	}
	nKV, err := r.count("key/value count", 8+1+4+1) // smallest key/value
	if err != nil {
		return err
	}
	f.KV = make([]KV, 0, min(nKV, 1024)) // grows with what the file really holds
	for i := uint64(0); i < nKV; i++ {
		kv, err := r.keyValue()
		if err != nil {
			return err
		}
		if _, dup := f.kvIndex[kv.Key]; dup {
			return r.errorAt(kv.Key, "", "key appears twice")
		}
		f.kvIndex[kv.Key] = len(f.KV)
		f.KV = append(f.KV, kv)
	}
	if err := f.readAlignment(r); err != nil {
		return err
	}
	f.Tensors = make([]TensorInfo, 0, min(nTensors, 1024))
	for i := uint64(0); i < nTensors; i++ {
		t, err := r.tensorInfo()
		if err != nil {
			return err
		}
		if _, dup := f.tensorIndex[t.Name]; dup {
			return r.errorAt("", t.Name, "tensor name appears twice")
		}
		f.tensorIndex[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	f.DataOffset = alignUp(r.off, f.Alignment)
	return f.checkData(r)
}

func (f *File) readAlignment(r *reader) error {
	f.Alignment = DefaultAlignment
	i, ok := f.kvIndex["general.alignment"]
	if !ok {
		return nil
	}
	v := f.KV[i].Value
	a, ok := v.Uint()
	if !ok || v.Type != TypeUint32 {
		return r.errorAt("general.alignment", "", fmt.Sprintf("must be a uint32, is %s", v.TypeName()))
	}
	if a == 0 || a&(a-1) != 0 || a > 1<<20 {
		return r.errorAt("general.alignment", "", fmt.Sprintf("alignment %d is not a power of two up to 2^20", a))
	}
	f.Alignment = int64(a)
	return nil
}

// checkData checks every tensor's offset, alignment and extent against the
// data section.
func (f *File) checkData(r *reader) error {
	dataLen := int64(len(f.data)) - f.DataOffset
	if dataLen < 0 {
		if len(f.Tensors) == 0 {
			return nil
		}
		return r.errorf("file ends at byte %d, before the data section (byte %d)", len(f.data), f.DataOffset)
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Offset%f.Alignment != 0 {
			return r.errorAt("", t.Name, fmt.Sprintf("data offset %d is not a multiple of the alignment %d", t.Offset, f.Alignment))
		}
		if t.Offset > dataLen || t.Size > dataLen-t.Offset {
			return r.errorAt("", t.Name, fmt.Sprintf("data [%d, %d) of the data section runs past its end (%d bytes): the file is truncated or the offset is wrong",
				t.Offset, t.Offset+t.Size, dataLen))
		}
	}
	return nil
}

func alignUp(x, a int64) int64 { return (x + a - 1) / a * a }

// Lookup returns a metadata value by key.
func (f *File) Lookup(key string) (Value, bool) {
	i, ok := f.kvIndex[key]
	if !ok {
		return Value{}, false
	}
	return f.KV[i].Value, true
}

// Tensor describes a tensor by name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tensorIndex[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// TensorData returns a tensor's bytes without copying (they are mapped).
func (f *File) TensorData(name string) ([]byte, *TensorInfo, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, nil, &Error{File: f.Path, Tensor: name, Msg: "no such tensor"}
	}
	if f.data == nil {
		return nil, nil, &Error{File: f.Path, Tensor: name, Msg: "file is closed"}
	}
	start := f.DataOffset + t.Offset
	return f.data[start : start+t.Size : start+t.Size], t, nil
}

// TensorBytes is the sum of every tensor's data size.
func (f *File) TensorBytes() int64 {
	var n int64
	for i := range f.Tensors {
		n += f.Tensors[i].Size
	}
	return n
}
