package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/hyquant/hyquant/kernels/ggml"
)

// reader walks the header of a GGUF file, checking every length against
// the bytes that remain.
type reader struct {
	file string
	b    []byte
	off  int64
	// key and tensor name what is being read, for errors.
	key, tensor string
}

func (r *reader) errorf(format string, args ...any) error {
	return &Error{File: r.file, Key: r.key, Tensor: r.tensor, Offset: r.off, Msg: fmt.Sprintf(format, args...)}
}

func (r *reader) errorAt(key, tensor, msg string) error {
	return &Error{File: r.file, Key: key, Tensor: tensor, Offset: r.off, Msg: msg}
}

func (r *reader) left() int64 { return int64(len(r.b)) - r.off }

func (r *reader) bytes(n int64) ([]byte, error) {
	if n < 0 || n > r.left() {
		return nil, r.errorf("needs %d more bytes, the file has %d left (truncated?)", n, r.left())
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b, nil
}

func (r *reader) u8() (uint8, error) {
	b, err := r.bytes(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (r *reader) u32() (uint32, error) {
	b, err := r.bytes(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *reader) u64() (uint64, error) {
	b, err := r.bytes(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads a uint64 count of items each taking at least minSize bytes,
// refusing counts the rest of the file cannot hold.
func (r *reader) count(what string, minSize int64) (uint64, error) {
	n, err := r.u64()
	if err != nil {
		return 0, err
	}
	if n > uint64(r.left()/minSize) {
		return 0, r.errorf("%s %d cannot fit in the %d bytes left of the file", what, n, r.left())
	}
	return n, nil
}

func (r *reader) str(what string) (string, error) {
	n, err := r.u64()
	if err != nil {
		return "", err
	}
	if n > MaxStringLen || int64(n) > r.left() {
		return "", r.errorf("%s length %d exceeds the %d bytes left of the file", what, n, r.left())
	}
	b, _ := r.bytes(int64(n))
	if !utf8.Valid(b) {
		return "", r.errorf("%s is not valid UTF-8", what)
	}
	return string(b), nil
}

func (r *reader) keyValue() (KV, error) {
	r.key, r.tensor = "", ""
	key, err := r.str("key")
	if err != nil {
		return KV{}, err
	}
	if key == "" {
		return KV{}, r.errorf("empty metadata key")
	}
	r.key = key
	t, err := r.u32()
	if err != nil {
		return KV{}, err
	}
	v, err := r.value(ValueType(t))
	if err != nil {
		return KV{}, err
	}
	r.key = ""
	return KV{Key: key, Value: v}, nil
}

// value reads one value of type t (arrays of arrays are refused by array:
// GGUF has none in practice, and they are a way to multiply lengths).
func (r *reader) value(t ValueType) (Value, error) {
	if t == TypeArray {
		return r.array()
	}
	size, ok := t.scalarSize()
	if !ok && t != TypeString {
		return Value{}, r.errorf("unknown value type %d", uint32(t))
	}
	if t == TypeString {
		s, err := r.str("string value")
		return Value{Type: t, str: s}, err
	}
	b, err := r.bytes(size)
	if err != nil {
		return Value{}, err
	}
	return Value{Type: t, raw: b}, nil
}

func (r *reader) array() (Value, error) {
	et, err := r.u32()
	if err != nil {
		return Value{}, err
	}
	elem := ValueType(et)
	if elem == TypeArray {
		return Value{}, r.errorf("arrays of arrays are not supported")
	}
	minSize, ok := elem.scalarSize()
	if elem == TypeString {
		minSize, ok = 8, true
	}
	if !ok {
		return Value{}, r.errorf("array of unknown value type %d", et)
	}
	n, err := r.count("array length", minSize)
	if err != nil {
		return Value{}, err
	}
	v := Value{Type: TypeArray, Elem: elem, n: int(n)}
	if elem == TypeString {
		v.strs = make([]string, 0, min(n, 1<<16)) // grows with what the file really holds
		for i := uint64(0); i < n; i++ {
			s, err := r.str(fmt.Sprintf("string %d of the array", i))
			if err != nil {
				return Value{}, err
			}
			v.strs = append(v.strs, s)
		}
		return v, nil
	}
	v.raw, _ = r.bytes(int64(n) * minSize)
	return v, nil
}

func (r *reader) tensorInfo() (TensorInfo, error) {
	r.key, r.tensor = "", ""
	name, err := r.str("tensor name")
	if err != nil {
		return TensorInfo{}, err
	}
	if name == "" {
		return TensorInfo{}, r.errorf("empty tensor name")
	}
	r.tensor = name
	nd, err := r.u32()
	if err != nil {
		return TensorInfo{}, err
	}
	if nd == 0 || nd > MaxDims {
		return TensorInfo{}, r.errorf("%d dimensions (1 to %d allowed)", nd, MaxDims)
	}
	t := TensorInfo{Name: name, Dims: make([]int64, nd)}
	elems := int64(1)
	for i := range t.Dims {
		d, err := r.u64()
		if err != nil {
			return TensorInfo{}, err
		}
		if d == 0 || d > math.MaxInt64/uint64(elems) {
			return TensorInfo{}, r.errorf("dimension %d is %d: zero, or the element count overflows", i, d)
		}
		t.Dims[i] = int64(d)
		elems *= int64(d)
	}
	typ, err := r.u32()
	if err != nil {
		return TensorInfo{}, err
	}
	t.Type = ggml.Type(typ)
	if _, ok := ggml.Lookup(t.Type); !ok {
		return TensorInfo{}, r.errorf("unknown ggml type id %d", typ)
	}
	rowBytes, err := t.Type.RowBytes(t.Dims[0])
	if err != nil {
		return TensorInfo{}, r.errorf("%v", err)
	}
	rows := elems / t.Dims[0]
	if rowBytes != 0 && rows > math.MaxInt64/rowBytes {
		return TensorInfo{}, r.errorf("data size overflows")
	}
	t.Size = rowBytes * rows
	off, err := r.u64()
	if err != nil {
		return TensorInfo{}, err
	}
	if off > math.MaxInt64/2 {
		return TensorInfo{}, r.errorf("data offset %d is out of range", off)
	}
	t.Offset = int64(off)
	r.tensor = ""
	return t, nil
}
