package safetensors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// TensorSpec declares a tensor before its data is written.
type TensorSpec struct {
	Name  string
	DType DType
	Shape []int64
}

// Bytes is the size of the tensor's data.
func (s TensorSpec) Bytes() int64 {
	n := int64(s.DType.Size())
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// Writer streams a safetensors file to disk: the header is written from the
// declared specs first, then each tensor's data in declaration order, so no
// tensor need be held in memory whole. The file appears under its final
// name only when Close succeeds (temporary file + rename); Abort removes it.
type Writer struct {
	path, tmp string
	f         *os.File
	buf       *bufio.Writer
	specs     []TensorSpec
	cur       int   // index of the tensor being written; -1 before the first
	left      int64 // bytes still owed to the current tensor
	err       error
}

// Create starts a safetensors file at path with the given tensors, in that
// data order, and optional string metadata.
func Create(path string, specs []TensorSpec, metadata map[string]string) (*Writer, error) {
	header, err := EncodeHeader(specs, metadata)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	w := &Writer{path: path, tmp: f.Name(), f: f, buf: bufio.NewWriterSize(f, 1<<20), specs: specs, cur: -1}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(header)))
	w.buf.Write(lenBuf[:])
	if _, err := w.buf.Write(header); err != nil {
		w.Abort()
		return nil, err
	}
	return w, nil
}

// EncodeHeader builds the JSON header (padded with spaces to a multiple of 8
// bytes) for tensors laid out contiguously in the given order.
func EncodeHeader(specs []TensorSpec, metadata map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if len(metadata) > 0 {
		m, err := json.Marshal(metadata)
		if err != nil {
			return nil, err
		}
		b.WriteString(`"__metadata__":`)
		b.Write(m)
	}
	seen := make(map[string]bool, len(specs))
	var off int64
	for i, s := range specs {
		if seen[s.Name] || s.Name == "__metadata__" {
			return nil, fmt.Errorf("tensor %q declared twice or reserved", s.Name)
		}
		seen[s.Name] = true
		if !s.DType.Known() {
			return nil, fmt.Errorf("tensor %q: unknown dtype %q", s.Name, s.DType)
		}
		if i > 0 || len(metadata) > 0 {
			b.WriteByte(',')
		}
		name, _ := json.Marshal(s.Name)
		shape := s.Shape
		if shape == nil {
			shape = []int64{}
		}
		entry, err := json.Marshal(map[string]any{"dtype": s.DType, "shape": shape, "data_offsets": [2]int64{off, off + s.Bytes()}})
		if err != nil {
			return nil, err
		}
		b.Write(name)
		b.WriteByte(':')
		b.Write(entry)
		off += s.Bytes()
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	return b.Bytes(), nil
}

// BeginTensor starts the data of the named tensor, which must be the next
// one declared; its bytes follow with Write.
func (w *Writer) BeginTensor(name string) error {
	if w.err != nil {
		return w.err
	}
	if w.left != 0 {
		return w.fail(fmt.Errorf("tensor %q: %d bytes still missing before %q", w.specs[w.cur].Name, w.left, name))
	}
	if w.cur+1 >= len(w.specs) {
		return w.fail(fmt.Errorf("tensor %q was not declared (all %d declared tensors are written)", name, len(w.specs)))
	}
	if next := w.specs[w.cur+1].Name; next != name {
		return w.fail(fmt.Errorf("tensor %q written out of order: next declared tensor is %q", name, next))
	}
	w.cur++
	w.left = w.specs[w.cur].Bytes()
	return nil
}

// Write appends data to the current tensor.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.cur < 0 || int64(len(p)) > w.left {
		name := "(none)"
		if w.cur >= 0 {
			name = w.specs[w.cur].Name
		}
		return 0, w.fail(fmt.Errorf("tensor %s: %d bytes written past its declared size", name, len(p)))
	}
	n, err := w.buf.Write(p)
	w.left -= int64(n)
	if err != nil {
		return n, w.fail(err)
	}
	return n, nil
}

// WriteTensor writes a whole tensor: BeginTensor then Write.
func (w *Writer) WriteTensor(name string, data []byte) error {
	if err := w.BeginTensor(name); err != nil {
		return err
	}
	if int64(len(data)) != w.left {
		return w.fail(fmt.Errorf("tensor %q: %d bytes given, %d declared", name, len(data), w.left))
	}
	_, err := w.Write(data)
	return err
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = fmt.Errorf("writing %s: %w", w.path, err)
	}
	return w.err
}

// Close checks that every declared tensor was written in full, syncs, and
// renames the file into place. On error the temporary file is removed.
func (w *Writer) Close() error {
	if w.err == nil && (w.left != 0 || w.cur != len(w.specs)-1) {
		missing := len(w.specs) - 1 - w.cur
		w.fail(fmt.Errorf("closed with %d tensor(s) unwritten and %d bytes missing", missing, w.left))
	}
	if w.err == nil {
		if err := w.buf.Flush(); err != nil {
			w.fail(err)
		} else if err := w.f.Sync(); err != nil {
			w.fail(err)
		}
	}
	if err := w.f.Close(); err != nil && w.err == nil {
		w.fail(err)
	}
	if w.err != nil {
		os.Remove(w.tmp)
		return w.err
	}
	if err := os.Rename(w.tmp, w.path); err != nil {
		os.Remove(w.tmp)
		return w.fail(err)
	}
	return nil
}

// Abort abandons the file, removing the temporary.
func (w *Writer) Abort() {
	if w.err == nil {
		w.err = fmt.Errorf("writing %s: aborted", w.path)
	}
	w.f.Close()
	os.Remove(w.tmp)
}
