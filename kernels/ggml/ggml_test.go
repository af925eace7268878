package ggml

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/x448/float16"
)

// floatAndLegacyKTypes are the types whose dequantisation lives in float.go,
// q*.go and iq4_*.go, each with a fixture pair in testdata (see
// testdata/README.md): <name>.bin, blocks llama.cpp wrote, and <name>.f32,
// gguf-py's dequantisation of them.
var floatAndLegacyKTypes = []Type{
	F32, F16, BF16,
	Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
	Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
	IQ4_NL, IQ4_XS,
}

// readDequantFixture returns a type's fixture blocks and the float32
// values gguf-py made of them.
func readDequantFixture(tb testing.TB, t Type) ([]byte, []float32) {
	tb.Helper()
	base := filepath.Join("testdata", t.String())
	src, err := os.ReadFile(base + ".bin")
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := os.ReadFile(base + ".f32")
	if err != nil {
		tb.Fatal(err)
	}
	if len(raw)%4 != 0 {
		tb.Fatalf("%s.f32: %d bytes is not a whole number of float32", base, len(raw))
	}
	want := make([]float32, len(raw)/4)
	for i := range want {
		want[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return src, want
}

// TestDequantizeMatchesGGUFPy requires every value to have the very bits
// gguf-py (and llama.cpp's dequantize_row_*) give.
func TestDequantizeMatchesGGUFPy(t *testing.T) {
	for _, typ := range floatAndLegacyKTypes {
		t.Run(typ.String(), func(t *testing.T) {
			tr, _ := Lookup(typ)
			src, want := readDequantFixture(t, typ)
			if len(src)%tr.BlockBytes != 0 {
				t.Fatalf("fixture: %d bytes, not whole %d-byte blocks", len(src), tr.BlockBytes)
			}
			nb := len(src) / tr.BlockBytes
			if nb*tr.BlockSize != len(want) {
				t.Fatalf("fixture: %d blocks of %d values, but %d expected values", nb, tr.BlockSize, len(want))
			}
			if nb*tr.BlockSize < 4*32 {
				t.Fatalf("fixture too small: %d values", nb*tr.BlockSize)
			}
			// A longer dst whose tail must stay untouched.
			const sentinel = 12345.5
			got := make([]float32, len(want)+7)
			for i := range got {
				got[i] = sentinel
			}
			if err := typ.Dequantize(got, src); err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i, w := range want {
				if g := got[i]; math.Float32bits(g) != math.Float32bits(w) {
					if bad < 10 {
						t.Errorf("block %d value %d: got %g (%#08x), gguf-py %g (%#08x)",
							i/tr.BlockSize, i%tr.BlockSize, g, math.Float32bits(g), w, math.Float32bits(w))
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d values differ", bad, len(want))
			}
			for i := len(want); i < len(got); i++ {
				if got[i] != sentinel {
					t.Fatalf("dst[%d] past the output was overwritten: %g", i, got[i])
				}
			}
			// Block by block, each block's values must be the same as in
			// the whole run (nothing carries over between blocks).
			one := make([]float32, tr.BlockSize)
			for b := 0; b < nb; b++ {
				tr.Dequantize(one, src[b*tr.BlockBytes:(b+1)*tr.BlockBytes])
				for j, g := range one {
					if w := want[b*tr.BlockSize+j]; math.Float32bits(g) != math.Float32bits(w) {
						t.Fatalf("block %d alone, value %d: got %#08x, want %#08x", b, j, math.Float32bits(g), math.Float32bits(w))
					}
				}
			}
		})
	}
}

// TestLayoutSizes ties each file's block size constant to the table.
func TestLayoutSizes(t *testing.T) {
	for typ, n := range map[Type]int{
		Q4_0: q4_0Bytes, Q4_1: q4_1Bytes, Q5_0: q5_0Bytes, Q5_1: q5_1Bytes, Q8_0: q8_0Bytes,
		Q2_K: q2_KBytes, Q3_K: q3_KBytes, Q4_K: q4_KBytes, Q5_K: q5_KBytes, Q6_K: q6_KBytes,
		IQ4_NL: iq4_NLBytes, IQ4_XS: iq4_XSBytes,
	} {
		tr, _ := Lookup(typ)
		if tr.BlockBytes != n {
			t.Errorf("%s: table says %d bytes a block, the format file %d", typ, tr.BlockBytes, n)
		}
		if !typ.CanDequantize() {
			t.Errorf("%s: no dequantisation registered", typ)
		}
	}
}

// halfReference is binary16 -> float32 by arithmetic instead of bits:
// (-1)^s * 2^(e-15) * (1 + m/1024), or 2^-14 * m/1024 for subnormals.
func halfReference(h uint16) float64 {
	s := 1.0
	if h&0x8000 != 0 {
		s = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch e {
	case 0:
		return s * math.Ldexp(m, -24)
	case 0x1f:
		if m == 0 {
			return math.Inf(int(s))
		}
		return math.NaN()
	}
	return s * math.Ldexp(1024+m, e-25)
}

func TestHalfToFloatAllValues(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := halfToFloat(h)
		ref := halfReference(h)
		if math.IsNaN(ref) {
			// ggml keeps sign and payload and sets the quiet bit.
			want := uint32(h&0x8000)<<16 | 0x7fc00000 | uint32(h&0x3ff)<<13
			if math.Float32bits(got) != want {
				t.Fatalf("%#04x: got %#08x, want NaN %#08x", h, math.Float32bits(got), want)
			}
			continue
		}
		if math.Float32bits(got) != math.Float32bits(float32(ref)) || float64(got) != ref {
			t.Fatalf("%#04x: got %g (%#08x), want %g", h, got, math.Float32bits(got), ref)
		}
		if x := float16.Frombits(h).Float32(); math.Float32bits(x) != math.Float32bits(got) {
			t.Fatalf("%#04x: got %#08x, x448/float16 says %#08x", h, math.Float32bits(got), math.Float32bits(x))
		}
	}
}

func TestHalfToFloatEdges(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want uint32
	}{
		{0x0000, 0x00000000},
		{0x8000, 0x80000000},             // -0
		{0x0001, 0x33800000},             // 2^-24, the smallest subnormal
		{0x8001, 0xb3800000},             // -2^-24
		{0x03ff, 0x387fc000},             // the largest subnormal
		{0x0400, 0x38800000},             // 2^-14, the smallest normal
		{0x3c00, 0x3f800000},             // 1
		{0x7bff, 0x477fe000},             // 65504
		{0x7c00, 0x7f800000},             // +Inf
		{0xfc00, 0xff800000},             // -Inf
		{0x7e00, 0x7fc00000},             // quiet NaN
		{0xfe00, 0xffc00000},             // negative quiet NaN
		{0x7c01, 0x7fc02000},             // signalling NaN, quietened
		{0x7fff, 0x7fffe000},             // NaN, full payload
		{0x3555, 0x3eaaa000},             // 0.333251953125
		{0xc000, math.Float32bits(-2.0)}, // -2
	} {
		if got := math.Float32bits(halfToFloat(c.h)); got != c.want {
			t.Errorf("halfToFloat(%#04x) = %#08x, want %#08x", c.h, got, c.want)
		}
	}
	if !math.IsInf(float64(halfToFloat(0x7c00)), 1) || !math.IsInf(float64(halfToFloat(0xfc00)), -1) {
		t.Error("0x7c00/0xfc00 are not ±Inf")
	}
	for _, h := range []uint16{0x7c01, 0x7e00, 0xfe00, 0xffff} {
		if x := halfToFloat(h); x == x {
			t.Errorf("halfToFloat(%#04x) = %g, want NaN", h, x)
		}
	}
	// Through the F16 dequantiser, little-endian.
	var dst [3]float32
	if err := F16.Dequantize(dst[:], []byte{0x01, 0x00, 0x00, 0x7c, 0x00, 0xfc}); err != nil {
		t.Fatal(err)
	}
	if dst[0] != float32(math.Ldexp(1, -24)) || !math.IsInf(float64(dst[1]), 1) || !math.IsInf(float64(dst[2]), -1) {
		t.Errorf("F16 0x0001 0x7c00 0xfc00 -> %v", dst)
	}
}

func TestBF16KeepsBits(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		if got := math.Float32bits(bf16ToFloat(uint16(i))); got != uint32(i)<<16 {
			t.Fatalf("bf16 %#04x -> %#08x", i, got)
		}
	}
}

func TestRowBytes(t *testing.T) {
	for _, c := range []struct {
		t    Type
		cols int64
		want int64
	}{
		{F32, 3, 12}, {F16, 5, 10}, {BF16, 0, 0},
		{Q4_0, 64, 36}, {Q8_0, 4096, 128 * 34},
		{Q4_K, 256, 144}, {Q6_K, 1280, 5 * 210}, {IQ4_XS, 512, 272}, {IQ4_NL, 32, 18},
	} {
		got, err := c.t.RowBytes(c.cols)
		if err != nil || got != c.want {
			t.Errorf("%s.RowBytes(%d) = %d, %v; want %d", c.t, c.cols, got, err, c.want)
		}
	}
	for _, c := range []struct {
		t    Type
		cols int64
	}{
		{Q4_0, 33}, {Q4_K, 100}, {Q4_K, 128}, {Q6_K, 257}, {IQ4_XS, 32}, {Q8_0, -32},
	} {
		if got, err := c.t.RowBytes(c.cols); err == nil {
			t.Errorf("%s.RowBytes(%d) = %d, want an error", c.t, c.cols, got)
		} else if !strings.Contains(err.Error(), c.t.String()) {
			t.Errorf("%s.RowBytes(%d): error %q does not name the type", c.t, c.cols, err)
		}
	}
	if _, err := Type(4).RowBytes(32); err == nil {
		t.Error("retired type id 4: RowBytes gave no error")
	}
}

func TestParseType(t *testing.T) {
	for name, want := range map[string]Type{
		"q4_K": Q4_K, "Q4_K": Q4_K, "q4_k": Q4_K, "BF16": BF16, "f32": F32,
		"IQ4_NL": IQ4_NL, "iq4_xs": IQ4_XS, "Q8_0": Q8_0, "q2_k": Q2_K,
	} {
		if got, err := ParseType(name); err != nil || got != want {
			t.Errorf("ParseType(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	for _, name := range []string{"", "q4_k_m", "Q3_K_S", "q4", "f8", "q4_0 "} {
		if got, err := ParseType(name); err == nil {
			t.Errorf("ParseType(%q) = %v, want an error", name, got)
		}
	}
	for _, typ := range Types() {
		if got, err := ParseType(typ.String()); err != nil || got != typ {
			t.Errorf("ParseType(%q) = %v, %v; want %v", typ.String(), got, err, typ)
		}
	}
	if s := Type(4).String(); s != "type(4)" {
		t.Errorf("Type(4).String() = %q", s)
	}
}

func TestDequantizeErrors(t *testing.T) {
	dst := make([]float32, 512)
	if err := Q4_K.Dequantize(dst, make([]byte, 145)); err == nil {
		t.Error("Q4_K, 145 bytes: no error")
	}
	if err := Q4_K.Dequantize(dst[:255], make([]byte, 144)); err == nil {
		t.Error("Q4_K, 255 values of dst for a block: no error")
	}
	if err := Q8_1.Dequantize(dst, make([]byte, 36)); err == nil {
		t.Error("Q8_1 (no dequantisation): no error")
	}
	if err := Type(5).Dequantize(dst, nil); err == nil {
		t.Error("type id 5: no error")
	}
	if err := Q4_0.Dequantize(nil, nil); err != nil {
		t.Errorf("no blocks: %v", err)
	}
}

// BenchmarkDequantize reports each type's speed in values per second, on
// the fixture blocks repeated to 64Ki values (in cache, as in a panel
// packer).
func BenchmarkDequantize(b *testing.B) {
	for _, typ := range floatAndLegacyKTypes {
		b.Run(typ.String(), func(b *testing.B) {
			tr, _ := Lookup(typ)
			blocks, _ := readDequantFixture(b, typ)
			const values = 1 << 16
			nb := values / tr.BlockSize
			src := make([]byte, 0, nb*tr.BlockBytes)
			for len(src) < nb*tr.BlockBytes {
				src = append(src, blocks...)
			}
			src = src[:nb*tr.BlockBytes]
			dst := make([]float32, values)
			b.SetBytes(int64(len(src)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tr.Dequantize(dst, src)
			}
			b.ReportMetric(float64(values)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
		})
	}
}

// ExampleType_Dequantize shows a Q8_0 block: scale 0.5 (0x3800), quants -16..15.
func ExampleType_Dequantize() {
	blk := make([]byte, 34)
	blk[0], blk[1] = 0x00, 0x38
	for i := 0; i < 32; i++ {
		blk[2+i] = byte(i - 16)
	}
	dst := make([]float32, 32)
	if err := Q8_0.Dequantize(dst, blk); err != nil {
		panic(err)
	}
	fmt.Println(dst[0], dst[16], dst[31])
	// Output: -8 0 7.5
}
