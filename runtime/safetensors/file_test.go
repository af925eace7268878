package safetensors

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// build assembles a file from a header string and a data section.
func build(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestParseValid(t *testing.T) {
	data := make([]byte, 4*3+2*2)
	binary.LittleEndian.PutUint32(data[4:], 0x3f800000) // 1.0
	binary.LittleEndian.PutUint16(data[12:], 0xc000)    // bf16 -2.0
	hdr := `{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"b":{"dtype":"BF16","shape":[1,2],"data_offsets":[12,16]}}   `
	f, err := Parse("x.safetensors", build(hdr, data))
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["format"] != "pt" || len(f.Tensors) != 2 || f.Tensors[0].Name != "a" {
		t.Fatalf("bad parse: %+v", f)
	}
	a, _, err := f.Float32("a")
	if err != nil || a[0] != 0 || a[1] != 1 || a[2] != 0 {
		t.Fatalf("a = %v, %v", a, err)
	}
	b, ti, err := f.Float32("b")
	if err != nil || b[0] != -2 || b[1] != 0 || ti.NumElements() != 2 {
		t.Fatalf("b = %v, %v", b, err)
	}
	if _, _, err := f.Raw("nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("missing tensor error = %v", err)
	}
}

// Every class of malformed file is rejected with a message naming the file,
// and the tensor where there is one.
func TestParseMalformed(t *testing.T) {
	ok := `{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"too short", []byte{1, 2, 3}, "too short"},
		{"huge header length", func() []byte {
			b := make([]byte, 16)
			binary.LittleEndian.PutUint64(b, 1<<40)
			return b
		}(), "exceeds"},
		{"truncated header", build(ok, make([]byte, 8))[:30], "runs past the end"},
		{"truncated data", build(ok, make([]byte, 5)), `"w": data_offsets [0, 8] run past`},
		{"bad json", build(`{"w":{"dtype":"F32",}`, nil), "not valid JSON"},
		{"not an object", build(`[1,2,3]`, nil), "does not start with '{'"},
		{"junk after object", build(`{}xx`, nil), "after the header"},
		{"missing field", build(`{"w":{"dtype":"F32","shape":[2]}}`, make([]byte, 8)), `"w": header entry needs`},
		{"unknown dtype", build(`{"w":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8)), `"w": unknown dtype "F7"`},
		{"negative shape", build(`{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, make([]byte, 8)), "negative dimension"},
		{"size mismatch", build(`{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), "needs 12"},
		{"reversed offsets", build(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, make([]byte, 8)), "not an increasing pair"},
		{"overlap", build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)), "overlap"},
		{"gap", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)), "no tensor uses"},
		{"trailing data", build(ok, make([]byte, 12)), "trailing bytes"},
		{"bad metadata", build(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"shape overflow", build(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, make([]byte, 8)), "too large"},
	}
	for _, c := range cases {
		_, err := Parse("bad.safetensors", c.file)
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !strings.Contains(err.Error(), "bad.safetensors") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not name the file or say %q", c.name, err, c.want)
		}
	}
}

func TestWriterRoundTripAndAtomicity(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	specs := []TensorSpec{
		{Name: "x", DType: BF16, Shape: []int64{2, 3}},
		{Name: "codes", DType: U8, Shape: []int64{5}},
		{Name: "s", DType: F32, Shape: []int64{}},
	}
	w, err := Create(path, specs, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	vals := []float32{1, -2, 0.5, 3.25, 1e-3, -7}
	raw := make([]byte, 12)
	if err := FromFloat32(raw, vals, BF16); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor("x", raw); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("final file visible before Close: %v", err)
	}
	if err := w.BeginTensor("codes"); err != nil {
		t.Fatal(err)
	}
	w.Write([]byte{1, 2})
	w.Write([]byte{3, 4, 5})
	if err := w.WriteTensor("s", []byte{0, 0, 0x80, 0x3f}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, _, err := f.Float32("x")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if got[i] != RoundTo(v, BF16) {
			t.Errorf("x[%d] = %v, want %v", i, got[i], RoundTo(v, BF16))
		}
	}
	c, _, _ := f.Raw("codes")
	if string(c) != "\x01\x02\x03\x04\x05" {
		t.Errorf("codes = %v", c)
	}
	s, _, _ := f.Float32("s")
	if s[0] != 1 {
		t.Errorf("s = %v", s)
	}
	hdr, err := ReadHeader(path)
	if err != nil || len(hdr.Tensors) != 3 {
		t.Fatalf("ReadHeader: %v %v", hdr, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("left temporary files: %v", ents)
	}
}

func TestWriterRejectsMisuse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	specs := []TensorSpec{{Name: "a", DType: F32, Shape: []int64{2}}, {Name: "b", DType: F32, Shape: []int64{1}}}
	w, err := Create(path, specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor("b", make([]byte, 4)); err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("out of order accepted: %v", err)
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close after error succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("failed write left files: %v", ents)
	}

	w, _ = Create(path, specs, nil)
	w.WriteTensor("a", make([]byte, 8))
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), "unwritten") {
		t.Fatalf("incomplete file closed: %v", err)
	}
	if _, err := Create(path, []TensorSpec{{Name: "a", DType: F32}, {Name: "a", DType: F32}}, nil); err == nil {
		t.Fatal("duplicate names accepted")
	}
}

func TestBF16Rounding(t *testing.T) {
	cases := map[float32]uint16{
		1:            0x3f80,
		-2:           0xc000,
		1.00390625:   0x3f80, // exactly halfway to the next bf16: ties to even
		1.01171875:   0x3f82, // halfway, odd below: rounds up
		3.4028235e38: 0x7f80, // max float32 overflows to +Inf
		1.0000001:    0x3f80,
	}
	for v, want := range cases {
		if got := BF16Bits(v); got != want {
			t.Errorf("BF16Bits(%v) = %#04x, want %#04x", v, got, want)
		}
	}
}

func TestOpenStreamReadAt(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.safetensors")
	w, err := Create(path, []TensorSpec{{Name: "a", DType: U8, Shape: []int64{3}}, {Name: "b", DType: U8, Shape: []int64{5}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.WriteTensor("a", []byte{1, 2, 3})
	w.WriteTensor("b", []byte{4, 5, 6, 7, 8})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, open := range []func(string) (*File, error){OpenStream, Open} {
		f, err := open(path)
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]byte, 3)
		if err := f.ReadAt("b", 1, dst); err != nil || string(dst) != "\x05\x06\x07" {
			t.Fatalf("ReadAt = %v, %v", dst, err)
		}
		if err := f.ReadAt("b", 3, dst); err == nil {
			t.Fatal("read past the tensor's end accepted")
		}
		f.Close()
	}
}
