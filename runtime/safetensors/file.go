// Package safetensors reads and writes the safetensors tensor file format
// (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header describing every tensor, then the raw data.
//
// Reading is strict: every malformed file is rejected with an error naming
// the file and, where there is one, the tensor, never with a panic. Files are
// memory-mapped, so opening a 16 GB checkpoint costs no memory until tensors
// are touched.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	mmap "github.com/edsrzf/mmap-go"

	"github.com/hyquant/hyquant/internal/mapped"
)

// MaxHeaderSize bounds the JSON header, as the reference implementation does
// (100 MB), so a corrupt length cannot make a reader allocate gigabytes.
const MaxHeaderSize = 100 << 20

// TensorInfo describes one tensor of a file.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int64
	// Begin and End are byte offsets into the data section.
	Begin, End int64
}

// NumElements is the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Bytes is the size of the tensor's data.
func (t TensorInfo) Bytes() int64 { return t.End - t.Begin }

// File is an opened safetensors file.
type File struct {
	Path     string
	Metadata map[string]string
	// Tensors in data order.
	Tensors []TensorInfo

	byName map[string]int
	data   []byte // the data section
	mapped mmap.MMap
	// Streamed files (OpenStream) read with ReadAt instead of mapping.
	stream  *os.File
	dataOff int64
}

// Error is a malformed-file error naming the file and, if any, the tensor.
type Error struct {
	File   string
	Tensor string
	Msg    string
}

func (e *Error) Error() string {
	if e.Tensor == "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s: tensor %q: %s", e.File, e.Tensor, e.Msg)
}

// Open memory-maps and validates a safetensors file.
func Open(path string) (*File, error) {
	m, err := mapped.Open(path, 8)
	if short, ok := err.(*mapped.TooShort); ok {
		return nil, &Error{File: path, Msg: fmt.Sprintf("file is %d bytes, too short for the 8-byte header length", short.Size)}
	}
	if err != nil {
		return nil, err
	}
	sf, err := Parse(path, m)
	if err != nil {
		m.Unmap()
		return nil, err
	}
	sf.mapped = m
	return sf, nil
}

// ReadHeader reads and validates only the header of a safetensors file; the
// data is not touched (offsets are checked against the file size).
func ReadHeader(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readHeader(path, f)
}

// OpenStream validates the header and keeps the file open for ReadAt:
// reading a tensor in pieces this way keeps memory (and resident set)
// bounded, where a mapping would count every page touched.
func OpenStream(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	sf, err := readHeader(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	sf.stream = f
	return sf, nil
}

func readHeader(path string, f *os.File) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(f, lenBuf[:]); err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("file is %d bytes, too short for the 8-byte header length", st.Size())}
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if err := checkHeaderLen(path, n, st.Size()); err != nil {
		return nil, err
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, &Error{File: path, Msg: "truncated header: " + err.Error()}
	}
	sf, err := parseHeader(path, hdr, st.Size()-8-int64(n))
	if err != nil {
		return nil, err
	}
	sf.dataOff = 8 + int64(n)
	return sf, nil
}

// ReadAt reads len(dst) bytes of a tensor's data starting at byte off of
// the tensor, from a file opened with OpenStream, Open or Parse.
func (f *File) ReadAt(name string, off int64, dst []byte) error {
	t, ok := f.Lookup(name)
	if !ok {
		return &Error{File: f.Path, Tensor: name, Msg: "no such tensor"}
	}
	if off < 0 || off+int64(len(dst)) > t.Bytes() {
		return &Error{File: f.Path, Tensor: name, Msg: fmt.Sprintf("read of [%d, %d) outside its %d bytes", off, off+int64(len(dst)), t.Bytes())}
	}
	switch {
	case f.data != nil:
		copy(dst, f.data[t.Begin+off:])
		return nil
	case f.stream != nil:
		if _, err := f.stream.ReadAt(dst, f.dataOff+t.Begin+off); err != nil {
			return &Error{File: f.Path, Tensor: name, Msg: "reading: " + err.Error()}
		}
		return nil
	}
	return &Error{File: f.Path, Tensor: name, Msg: "file was opened for its header only"}
}

func checkHeaderLen(path string, n uint64, fileSize int64) error {
	if n > MaxHeaderSize {
		return &Error{File: path, Msg: fmt.Sprintf("header length %d exceeds the %d-byte limit (corrupt or not a safetensors file)", n, MaxHeaderSize)}
	}
	if n > uint64(fileSize-8) {
		return &Error{File: path, Msg: fmt.Sprintf("header length %d runs past the end of the %d-byte file (truncated file?)", n, fileSize)}
	}
	if n < 2 {
		return &Error{File: path, Msg: fmt.Sprintf("header length %d is too small for a JSON object", n)}
	}
	return nil
}

// Parse validates a whole safetensors file held in memory (read, embedded
// or mapped). The File refers to b without copying it.
func Parse(name string, b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, &Error{File: name, Msg: fmt.Sprintf("file is %d bytes, too short for the 8-byte header length", len(b))}
	}
	n := binary.LittleEndian.Uint64(b)
	if err := checkHeaderLen(name, n, int64(len(b))); err != nil {
		return nil, err
	}
	f, err := parseHeader(name, b[8:8+n], int64(len(b))-8-int64(n))
	if err != nil {
		return nil, err
	}
	f.data = b[8+n:]
	return f, nil
}

type rawTensor struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

func parseHeader(name string, hdr []byte, dataLen int64) (*File, error) {
	if hdr[0] != '{' {
		return nil, &Error{File: name, Msg: "header does not start with '{' (not a safetensors file?)"}
	}
	var entries map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if err := dec.Decode(&entries); err != nil {
		return nil, &Error{File: name, Msg: "header is not valid JSON: " + err.Error()}
	}
	// Only trailing white space may follow the JSON object (writers pad with spaces).
	if rest, _ := io.ReadAll(dec.Buffered()); len(bytes.TrimSpace(rest)) > 0 {
		return nil, &Error{File: name, Msg: "unexpected bytes after the header's JSON object"}
	}
	f := &File{Path: name, byName: make(map[string]int, len(entries))}
	for key, msg := range entries {
		if key == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, &Error{File: name, Msg: "__metadata__ must map strings to strings: " + err.Error()}
			}
			continue
		}
		var rt rawTensor
		if err := json.Unmarshal(msg, &rt); err != nil {
			return nil, &Error{File: name, Tensor: key, Msg: "bad header entry: " + err.Error()}
		}
		ti, err := rt.info(name, key)
		if err != nil {
			return nil, err
		}
		f.Tensors = append(f.Tensors, ti)
	}
	sort.Slice(f.Tensors, func(i, j int) bool {
		a, b := f.Tensors[i], f.Tensors[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		if a.End != b.End {
			return a.End < b.End
		}
		return a.Name < b.Name
	})
	// The data section must be covered exactly: no overlap, no gap, nothing
	// beyond its end (as the reference implementation requires).
	var pos int64
	for i, t := range f.Tensors {
		if t.End > dataLen {
			return nil, &Error{File: name, Tensor: t.Name, Msg: fmt.Sprintf("data_offsets [%d, %d] run past the end of the %d-byte data section (truncated file?)", t.Begin, t.End, dataLen)}
		}
		if t.Begin < pos {
			return nil, &Error{File: name, Tensor: t.Name, Msg: fmt.Sprintf("data_offsets [%d, %d] overlap tensor %q which ends at %d", t.Begin, t.End, f.Tensors[i-1].Name, pos)}
		}
		if t.Begin > pos {
			return nil, &Error{File: name, Tensor: t.Name, Msg: fmt.Sprintf("data_offsets start at %d, leaving bytes [%d, %d) that no tensor uses", t.Begin, pos, t.Begin)}
		}
		pos = t.End
		f.byName[t.Name] = i
	}
	if pos != dataLen {
		return nil, &Error{File: name, Msg: fmt.Sprintf("data section is %d bytes but the tensors use %d (trailing bytes no tensor uses)", dataLen, pos)}
	}
	return f, nil
}

func (rt rawTensor) info(file, name string) (TensorInfo, error) {
	fail := func(format string, args ...any) (TensorInfo, error) {
		return TensorInfo{}, &Error{File: file, Tensor: name, Msg: fmt.Sprintf(format, args...)}
	}
	if rt.DType == nil || rt.Shape == nil || rt.DataOffsets == nil {
		return fail("header entry needs dtype, shape and data_offsets")
	}
	d := DType(*rt.DType)
	if !d.Known() {
		return fail("unknown dtype %q", *rt.DType)
	}
	n := int64(1)
	for _, s := range *rt.Shape {
		if s < 0 {
			return fail("negative dimension in shape %v", *rt.Shape)
		}
		if s != 0 && n > math.MaxInt64/s/8 {
			return fail("shape %v is too large", *rt.Shape)
		}
		n *= s
	}
	off := *rt.DataOffsets
	if len(off) != 2 {
		return fail("data_offsets must be [begin, end], got %d numbers", len(off))
	}
	if off[0] < 0 || off[1] < off[0] {
		return fail("data_offsets [%d, %d] are not an increasing pair", off[0], off[1])
	}
	if want := n * int64(d.Size()); off[1]-off[0] != want {
		return fail("data_offsets [%d, %d] span %d bytes but %s %v needs %d", off[0], off[1], off[1]-off[0], d, *rt.Shape, want)
	}
	return TensorInfo{Name: name, DType: d, Shape: append([]int64(nil), *rt.Shape...), Begin: off[0], End: off[1]}, nil
}

// Lookup returns the tensor's description.
func (f *File) Lookup(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// Raw returns the tensor's bytes, without copying (a view of the mapped or
// in-memory file). It fails if the File was opened with ReadHeader.
func (f *File) Raw(name string) ([]byte, TensorInfo, error) {
	t, ok := f.Lookup(name)
	if !ok {
		return nil, TensorInfo{}, &Error{File: f.Path, Tensor: name, Msg: "no such tensor"}
	}
	if f.data == nil {
		return nil, t, &Error{File: f.Path, Tensor: name, Msg: "file is not mapped (opened with OpenStream or ReadHeader; use ReadAt)"}
	}
	return f.data[t.Begin:t.End], t, nil
}

// Float32 converts a BF16, F16 or F32 tensor to a new float32 slice.
func (f *File) Float32(name string) ([]float32, TensorInfo, error) {
	var raw []byte
	t, ok := f.Lookup(name)
	if ok && f.data == nil && f.stream != nil {
		raw = make([]byte, t.Bytes())
		if err := f.ReadAt(name, 0, raw); err != nil {
			return nil, t, err
		}
	} else {
		var err error
		if raw, t, err = f.Raw(name); err != nil {
			return nil, t, err
		}
	}
	out := make([]float32, t.NumElements())
	if err := ToFloat32(out, raw, t.DType); err != nil {
		return nil, t, &Error{File: f.Path, Tensor: name, Msg: err.Error()}
	}
	return out, t, nil
}

// Close unmaps or closes the file; tensors' raw views become invalid.
func (f *File) Close() error {
	if f.stream != nil {
		err := f.stream.Close()
		f.stream = nil
		return err
	}
	if f.mapped != nil {
		err := f.mapped.Unmap()
		f.mapped = nil
		f.data = nil
		return err
	}
	return nil
}
