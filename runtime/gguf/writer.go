package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/hyquant/hyquant/kernels/ggml"
)

// Scalar and array values for the writer.

// Uint32 is a uint32 value.
func Uint32(x uint32) Value {
	return Value{Type: TypeUint32, raw: binary.LittleEndian.AppendUint32(nil, x)}
}

// Uint64 is a uint64 value.
func Uint64(x uint64) Value {
	return Value{Type: TypeUint64, raw: binary.LittleEndian.AppendUint64(nil, x)}
}

// Int32 is an int32 value.
func Int32(x int32) Value {
	return Value{Type: TypeInt32, raw: binary.LittleEndian.AppendUint32(nil, uint32(x))}
}

// Float32 is a float32 value.
func Float32(x float32) Value {
	return Value{Type: TypeFloat32, raw: binary.LittleEndian.AppendUint32(nil, math.Float32bits(x))}
}

// Bool is a bool value.
func Bool(b bool) Value {
	v := Value{Type: TypeBool, raw: []byte{0}}
	if b {
		v.raw[0] = 1
	}
	return v
}

// String is a string value.
func String(s string) Value { return Value{Type: TypeString, str: s} }

// Int32s is an array of int32.
func Int32s(xs []int32) Value {
	raw := make([]byte, 0, 4*len(xs))
	for _, x := range xs {
		raw = binary.LittleEndian.AppendUint32(raw, uint32(x))
	}
	return Value{Type: TypeArray, Elem: TypeInt32, raw: raw, n: len(xs)}
}

// Strings is an array of strings.
func Strings(ss []string) Value {
	return Value{Type: TypeArray, Elem: TypeString, strs: ss, n: len(ss)}
}

func (v Value) encode(w io.Writer) error {
	b := binary.LittleEndian.AppendUint32(nil, uint32(v.Type))
	switch {
	case v.Type == TypeString:
		b = appendString(b, v.str)
	case v.Type == TypeArray:
		b = binary.LittleEndian.AppendUint32(b, uint32(v.Elem))
		b = binary.LittleEndian.AppendUint64(b, uint64(v.n))
		if v.Elem == TypeString {
			for _, s := range v.strs {
				b = appendString(b, s)
			}
		} else {
			b = append(b, v.raw...)
		}
	default:
		b = append(b, v.raw...)
	}
	_, err := w.Write(b)
	return err
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// Writer writes a GGUF file: metadata and tensor descriptions first (all
// tensors are declared before any data, since the header holds their
// offsets), then each tensor's data in declaration order, streamed, so a
// model of any size is written in bounded memory. The file is built under
// a temporary name beside the target and renamed into place by Close; an
// error or Abort leaves nothing behind.
type Writer struct {
	path, tmp string
	f         *os.File
	bw        *bufio.Writer
	alignment int64
	kvs       []KV
	tensors   []TensorInfo
	next      int   // next tensor whose data is expected
	written   int64 // data bytes of the current tensor so far
	pos       int64 // bytes written to the file
	dataStart int64 // where the data section begins (once the header is out)
	started   bool
	err       error
}

// NewWriter starts a GGUF file at path with the given data alignment (0
// means DefaultAlignment; another value is recorded as general.alignment).
func NewWriter(path string, alignment int64) (*Writer, error) {
	if alignment == 0 {
		alignment = DefaultAlignment
	}
	if alignment <= 0 || alignment&(alignment-1) != 0 {
		return nil, fmt.Errorf("gguf: alignment %d is not a power of two", alignment)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	w := &Writer{path: path, tmp: f.Name(), f: f, bw: bufio.NewWriterSize(f, 1<<20), alignment: alignment}
	if alignment != DefaultAlignment {
		w.kvs = append(w.kvs, KV{Key: "general.alignment", Value: Uint32(uint32(alignment))})
	}
	return w, nil
}

// AddKV appends a metadata entry; all must come before the first WriteData.
func (w *Writer) AddKV(key string, v Value) error {
	if w.started {
		return w.fail(fmt.Errorf("gguf: key %q added after tensor data began", key))
	}
	for _, kv := range w.kvs {
		if kv.Key == key {
			return w.fail(fmt.Errorf("gguf: key %q added twice", key))
		}
	}
	w.kvs = append(w.kvs, KV{Key: key, Value: v})
	return nil
}

// AddTensor declares a tensor (dims in ggml order, row length first).
func (w *Writer) AddTensor(name string, dims []int64, t ggml.Type) error {
	if w.started {
		return w.fail(fmt.Errorf("gguf: tensor %q declared after tensor data began", name))
	}
	if len(dims) == 0 || len(dims) > MaxDims {
		return w.fail(fmt.Errorf("gguf: tensor %q has %d dimensions", name, len(dims)))
	}
	ti := TensorInfo{Name: name, Dims: append([]int64(nil), dims...), Type: t}
	rb, err := t.RowBytes(dims[0])
	if err != nil {
		return w.fail(fmt.Errorf("gguf: tensor %q: %w", name, err))
	}
	ti.Size = rb
	for _, d := range dims[1:] {
		ti.Size *= d
	}
	if n := len(w.tensors); n > 0 {
		prev := w.tensors[n-1]
		ti.Offset = alignUp(prev.Offset+prev.Size, w.alignment)
	}
	w.tensors = append(w.tensors, ti)
	return nil
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return err
}

func (w *Writer) write(b []byte) error {
	if w.err != nil {
		return w.err
	}
	n, err := w.bw.Write(b)
	w.pos += int64(n)
	if err != nil {
		return w.fail(err)
	}
	return nil
}

func (w *Writer) header() error {
	w.started = true
	b := []byte(Magic)
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(w.tensors)))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(w.kvs)))
	if err := w.write(b); err != nil {
		return err
	}
	for _, kv := range w.kvs {
		if err := w.write(appendString(nil, kv.Key)); err != nil {
			return err
		}
		cw := &countingWriter{w: w.bw}
		if err := kv.Value.encode(cw); err != nil {
			return w.fail(err)
		}
		w.pos += cw.n
	}
	for _, t := range w.tensors {
		b := appendString(nil, t.Name)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(t.Dims)))
		for _, d := range t.Dims {
			b = binary.LittleEndian.AppendUint64(b, uint64(d))
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(t.Type))
		b = binary.LittleEndian.AppendUint64(b, uint64(t.Offset))
		if err := w.write(b); err != nil {
			return err
		}
	}
	err := w.padTo(alignUp(w.pos, w.alignment))
	w.dataStart = w.pos
	return err
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

func (w *Writer) padTo(pos int64) error {
	if pos > w.pos {
		return w.write(make([]byte, pos-w.pos))
	}
	return nil
}

// WriteData appends data to the tensors in declaration order: a call may
// hold part of a tensor, a whole one, or run into the next.
func (w *Writer) WriteData(data []byte) error {
	if !w.started {
		if err := w.header(); err != nil {
			return err
		}
	}
	for len(data) > 0 {
		if w.next >= len(w.tensors) {
			return w.fail(errors.New("gguf: more data written than the declared tensors hold"))
		}
		t := w.tensors[w.next]
		if w.written == 0 {
			if err := w.padTo(w.dataStart + t.Offset); err != nil {
				return err
			}
		}
		n := min(int64(len(data)), t.Size-w.written)
		if err := w.write(data[:n]); err != nil {
			return err
		}
		data = data[n:]
		w.written += n
		if w.written == t.Size {
			w.next++
			w.written = 0
		}
	}
	return nil
}

// Close checks that every declared tensor got its data, syncs the file and
// renames it into place.
func (w *Writer) Close() error {
	if !w.started && w.err == nil {
		w.header()
	}
	if w.err == nil && (w.next != len(w.tensors) || w.written != 0) {
		name := ""
		if w.next < len(w.tensors) {
			name = w.tensors[w.next].Name
		}
		w.fail(fmt.Errorf("gguf: closed before the data of tensor %q (%d of %d tensors complete)", name, w.next, len(w.tensors)))
	}
	if w.err == nil {
		w.fail(w.bw.Flush())
	}
	if w.err == nil {
		w.fail(w.f.Sync())
	}
	if err := w.f.Close(); err != nil {
		w.fail(err)
	}
	if w.err == nil {
		w.fail(os.Chmod(w.tmp, 0o644)) // CreateTemp made it private
	}
	if w.err == nil {
		w.fail(os.Rename(w.tmp, w.path))
	}
	if w.err != nil {
		os.Remove(w.tmp)
		return w.err
	}
	return nil
}

// Abort discards the file.
func (w *Writer) Abort() {
	w.fail(errors.New("gguf: aborted"))
	w.f.Close()
	os.Remove(w.tmp)
}
