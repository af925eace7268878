package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
)

// ValueType is the type of a metadata value.
type ValueType uint32

// The metadata value types of the GGUF format.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var typeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

func (t ValueType) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// scalarSize is the encoded size of a fixed-size type.
func (t ValueType) scalarSize() (int64, bool) {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1, true
	case TypeUint16, TypeInt16:
		return 2, true
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4, true
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8, true
	}
	return 0, false
}

func (t ValueType) isInt() bool {
	switch t {
	case TypeUint8, TypeInt8, TypeUint16, TypeInt16, TypeUint32, TypeInt32, TypeUint64, TypeInt64:
		return true
	}
	return false
}

// KV is one metadata entry.
type KV struct {
	Key   string
	Value Value
}

// Value is a metadata value: a scalar, a string, or an array of one type.
// Scalars and numeric arrays refer to the file's bytes.
type Value struct {
	Type ValueType
	Elem ValueType // element type of an array
	raw  []byte
	str  string
	strs []string
	n    int
}

// TypeName is "uint32", "string", "array[int32]", ...
func (v Value) TypeName() string {
	if v.Type == TypeArray {
		return "array[" + v.Elem.String() + "]"
	}
	return v.Type.String()
}

// Len is an array's length (0 for a scalar).
func (v Value) Len() int { return v.n }

func intAt(t ValueType, b []byte) (int64, uint64, bool) {
	if size, _ := t.scalarSize(); len(b) < int(size) {
		return 0, 0, false // the zero Value
	}
	switch t {
	case TypeUint8:
		return int64(b[0]), uint64(b[0]), true
	case TypeInt8:
		x := int8(b[0])
		return int64(x), uint64(x), x >= 0
	case TypeUint16:
		x := binary.LittleEndian.Uint16(b)
		return int64(x), uint64(x), true
	case TypeInt16:
		x := int16(binary.LittleEndian.Uint16(b))
		return int64(x), uint64(x), x >= 0
	case TypeUint32:
		x := binary.LittleEndian.Uint32(b)
		return int64(x), uint64(x), true
	case TypeInt32:
		x := int32(binary.LittleEndian.Uint32(b))
		return int64(x), uint64(x), x >= 0
	case TypeUint64:
		x := binary.LittleEndian.Uint64(b)
		return int64(x), x, x <= math.MaxInt64
	case TypeInt64:
		x := int64(binary.LittleEndian.Uint64(b))
		return x, uint64(x), x >= 0
	}
	return 0, 0, false
}

// Uint returns an integer scalar of any integer type that is non-negative
// and fits an int64.
func (v Value) Uint() (uint64, bool) {
	if !v.Type.isInt() {
		return 0, false
	}
	_, u, ok := intAt(v.Type, v.raw)
	return u, ok
}

// Int returns an integer scalar of any integer type that fits an int64.
func (v Value) Int() (int64, bool) {
	if !v.Type.isInt() {
		return 0, false
	}
	i, u, nonneg := intAt(v.Type, v.raw)
	if v.Type == TypeUint64 && !nonneg {
		return 0, false
	}
	_ = u
	return i, true
}

// Float returns a float32 or float64 scalar.
func (v Value) Float() (float64, bool) {
	if len(v.raw) < 4 {
		return 0, false
	}
	switch v.Type {
	case TypeFloat32:
		return float64(math.Float32frombits(binary.LittleEndian.Uint32(v.raw))), true
	case TypeFloat64:
		return math.Float64frombits(binary.LittleEndian.Uint64(v.raw)), true
	}
	return 0, false
}

// Bool returns a bool scalar.
func (v Value) Bool() (bool, bool) {
	if v.Type != TypeBool || len(v.raw) < 1 {
		return false, false
	}
	return v.raw[0] != 0, true
}

// String returns a string scalar.
func (v Value) String() (string, bool) {
	if v.Type != TypeString {
		return "", false
	}
	return v.str, true
}

// Strings returns an array of strings.
func (v Value) Strings() ([]string, bool) {
	if v.Type != TypeArray || v.Elem != TypeString {
		return nil, false
	}
	return v.strs, true
}

// Ints returns an array of any integer type as int64s.
func (v Value) Ints() ([]int64, bool) {
	if v.Type != TypeArray || !v.Elem.isInt() {
		return nil, false
	}
	size, _ := v.Elem.scalarSize()
	out := make([]int64, v.n)
	for i := range out {
		x, _, _ := intAt(v.Elem, v.raw[int64(i)*size:])
		if v.Elem == TypeUint64 && x < 0 {
			return nil, false
		}
		out[i] = x
	}
	return out, true
}

// Display renders a value for people: scalars as themselves, long arrays
// abbreviated.
func (v Value) Display(maxItems int) string {
	switch {
	case v.Type == TypeString:
		return fmt.Sprintf("%q", v.str)
	case v.Type != TypeArray && v.raw == nil:
		return "<none>"
	case v.Type == TypeBool:
		b, _ := v.Bool()
		return fmt.Sprint(b)
	case v.Type == TypeFloat32 || v.Type == TypeFloat64:
		f, _ := v.Float()
		return fmt.Sprint(f)
	case v.Type == TypeUint64:
		return fmt.Sprint(binary.LittleEndian.Uint64(v.raw))
	case v.Type.isInt():
		i, _ := v.Int()
		return fmt.Sprint(i)
	}
	var items []string
	if s, ok := v.Strings(); ok {
		for i := 0; i < len(s) && i < maxItems; i++ {
			items = append(items, fmt.Sprintf("%q", s[i]))
		}
	} else if xs, ok := v.Ints(); ok {
		for i := 0; i < len(xs) && i < maxItems; i++ {
			items = append(items, fmt.Sprint(xs[i]))
		}
	} else {
		size, _ := v.Elem.scalarSize()
		for i := 0; i < v.n && i < maxItems; i++ {
			items = append(items, Value{Type: v.Elem, raw: v.raw[int64(i)*size:]}.Display(0))
		}
	}
	s := "["
	for i, it := range items {
		if i > 0 {
			s += " "
		}
		s += it
	}
	if v.n > len(items) {
		s += fmt.Sprintf(" ... (%d items)", v.n)
	}
	return s + "]"
}
