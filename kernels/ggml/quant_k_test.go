package ggml

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Tests of the K-quant and IQ4_XS quantisers against blocks llama-quantize
// wrote (testdata/quantk, made by testdata/make_quant_fixtures_k.py; see
// testdata/README-quant-k.md), and of the imatrix readers.

var kQuantTypes = []Type{Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS}

// kBlockFields names the byte ranges of each type's block, for failure
// messages that say what differs.
var kBlockFields = map[Type][]struct {
	name     string
	from, to int
}{
	Q2_K:   {{"scales", 0, 16}, {"qs", 16, 80}, {"d", 80, 82}, {"dmin", 82, 84}},
	Q3_K:   {{"hmask", 0, 32}, {"qs", 32, 96}, {"scales", 96, 108}, {"d", 108, 110}},
	Q4_K:   {{"d", 0, 2}, {"dmin", 2, 4}, {"scales", 4, 16}, {"qs", 16, 144}},
	Q5_K:   {{"d", 0, 2}, {"dmin", 2, 4}, {"scales", 4, 16}, {"qh", 16, 48}, {"qs", 48, 176}},
	Q6_K:   {{"ql", 0, 128}, {"qh", 128, 192}, {"scales", 192, 208}, {"d", 208, 210}},
	IQ4_XS: {{"d", 0, 2}, {"scales_h", 2, 4}, {"scales_l", 4, 8}, {"qs", 8, 136}},
}

type kFixtureManifest struct {
	Tensors []struct {
		Name string `json:"name"`
		Cols int    `json:"cols"`
		Rows []int  `json:"rows"`
	} `json:"tensors"`
	EdgeRows []string `json:"edge_rows"`
	Types    []struct {
		Type    string `json:"type"`
		FType   string `json:"ftype"`
		Plain   string `json:"plain"`
		Imatrix string `json:"imatrix"`
	} `json:"types"`
}

const kFixtureDir = "testdata/quantk"

func kReadF32(tb testing.TB, path string) []float32 {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if len(raw)%4 != 0 {
		tb.Fatalf("%s: %d bytes is not whole float32", path, len(raw))
	}
	v := make([]float32, len(raw)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}

// kFixture is one tensor's rows of the fixture: the input values, the
// per-column weights llama-quantize used, and where its blocks start in
// each type's block file.
type kFixture struct {
	name       string
	rows, cols int
	x, w       []float32
}

func kLoadFixtures(tb testing.TB) (kFixtureManifest, []kFixture) {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(kFixtureDir, "manifest.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var m kFixtureManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatal(err)
	}
	x := kReadF32(tb, filepath.Join(kFixtureDir, "input.f32"))
	w := kReadF32(tb, filepath.Join(kFixtureDir, "weights.f32"))
	var fs []kFixture
	xo, wo := 0, 0
	for _, t := range m.Tensors {
		n := len(t.Rows) * t.Cols
		if xo+n > len(x) || wo+t.Cols > len(w) {
			tb.Fatalf("fixture files shorter than the manifest says")
		}
		fs = append(fs, kFixture{t.Name, len(t.Rows), t.Cols, x[xo : xo+n], w[wo : wo+t.Cols]})
		xo += n
		wo += t.Cols
	}
	if xo != len(x) || wo != len(w) {
		tb.Fatalf("fixture files longer than the manifest says")
	}
	return m, fs
}

// kFirstDiff describes the first block of got that differs from want.
func kFirstDiff(typ Type, got, want []byte, where func(block int) string) string {
	tr, _ := Lookup(typ)
	for b := 0; b*tr.BlockBytes < len(want); b++ {
		g := got[b*tr.BlockBytes : (b+1)*tr.BlockBytes]
		w := want[b*tr.BlockBytes : (b+1)*tr.BlockBytes]
		if bytes.Equal(g, w) {
			continue
		}
		var fields []string
		for _, f := range kBlockFields[typ] {
			if !bytes.Equal(g[f.from:f.to], w[f.from:f.to]) {
				n := 0
				first := -1
				for i := f.from; i < f.to; i++ {
					if g[i] != w[i] {
						n++
						if first < 0 {
							first = i
						}
					}
				}
				fields = append(fields, fmt.Sprintf("%s (%d of %d bytes; first at byte %d: got %#02x want %#02x)",
					f.name, n, f.to-f.from, first, g[first], w[first]))
			}
		}
		return fmt.Sprintf("block %d (%s) differs in %s", b, where(b), strings.Join(fields, ", "))
	}
	return ""
}

// TestQuantizeKMatchesLlamaQuantize: for every type, without and with the
// importance matrix, Go's quantisation of the fixture rows gives exactly
// the bytes llama-quantize wrote.
func TestQuantizeKMatchesLlamaQuantize(t *testing.T) {
	m, fs := kLoadFixtures(t)
	if len(m.Types) != len(kQuantTypes) {
		t.Fatalf("manifest has %d types, want %d", len(m.Types), len(kQuantTypes))
	}
	for _, ft := range m.Types {
		typ, err := ParseType(ft.Type)
		if err != nil {
			t.Fatal(err)
		}
		for _, mode := range []string{"plain", "imatrix"} {
			t.Run(ft.Type+"/"+mode, func(t *testing.T) {
				file := ft.Plain
				if mode == "imatrix" {
					file = ft.Imatrix
				}
				want, err := os.ReadFile(filepath.Join(kFixtureDir, file))
				if err != nil {
					t.Fatal(err)
				}
				var got []byte
				var spans []string // which tensor and row each block is
				for _, f := range fs {
					rb, _ := typ.RowBytes(int64(f.cols))
					out := make([]byte, int64(f.rows)*rb)
					var w []float32
					if mode == "imatrix" {
						w = f.w
					}
					if err := typ.Quantize(out, f.x, f.rows, f.cols, w); err != nil {
						t.Fatal(err)
					}
					got = append(got, out...)
					for r := 0; r < f.rows; r++ {
						for b := 0; b < f.cols/QK_K; b++ {
							spans = append(spans, fmt.Sprintf("%s fixture row %d, super-block %d", f.name, r, b))
						}
					}
				}
				if len(got) != len(want) {
					t.Fatalf("%d bytes, llama-quantize wrote %d", len(got), len(want))
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s %s: %s", typ, mode, kFirstDiff(typ, got, want, func(b int) string { return spans[b] }))
				}
			})
		}
	}
}

// TestQuantizeKEdgeRows: rows no model has (zeros, -0, constants, a
// spike, tiny and huge values, zero sub-blocks, zero weights) give the
// bytes llama.cpp's ggml_quantize_chunk gave them.
func TestQuantizeKEdgeRows(t *testing.T) {
	m, _ := kLoadFixtures(t)
	x := kReadF32(t, filepath.Join(kFixtureDir, "edge.f32"))
	w := kReadF32(t, filepath.Join(kFixtureDir, "edge-weights.f32"))
	n := len(m.EdgeRows)
	if n == 0 || len(x) != n*QK_K || len(w) != n*QK_K {
		t.Fatalf("%d edge rows in the manifest, %d values, %d weights", n, len(x), len(w))
	}
	for _, typ := range kQuantTypes {
		tr, _ := Lookup(typ)
		for _, mode := range []string{"plain", "imatrix"} {
			want, err := os.ReadFile(filepath.Join(kFixtureDir, typ.String()+".edge."+mode+".bin"))
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != n*tr.BlockBytes {
				t.Fatalf("%s %s: %d bytes for %d rows", typ, mode, len(want), n)
			}
			got := make([]byte, tr.BlockBytes)
			for r := 0; r < n; r++ {
				var wr []float32
				if mode == "imatrix" {
					wr = w[r*QK_K : (r+1)*QK_K]
				}
				if err := typ.Quantize(got, x[r*QK_K:(r+1)*QK_K], 1, QK_K, wr); err != nil {
					t.Fatal(err)
				}
				if wb := want[r*tr.BlockBytes : (r+1)*tr.BlockBytes]; !bytes.Equal(got, wb) {
					t.Errorf("%s %s, row %q: %s", typ, mode, m.EdgeRows[r], kFirstDiff(typ, got, wb, func(int) string { return m.EdgeRows[r] }))
				}
			}
		}
	}
}

// TestQuantizeKIgnoresDst: the output does not depend on what dst held.
func TestQuantizeKIgnoresDst(t *testing.T) {
	_, fs := kLoadFixtures(t)
	f := fs[1]
	for _, typ := range kQuantTypes {
		for _, w := range [][]float32{nil, f.w} {
			rb, _ := typ.RowBytes(int64(f.cols))
			a := bytes.Repeat([]byte{0x00}, int(rb)*f.rows)
			b := bytes.Repeat([]byte{0xa5}, int(rb)*f.rows)
			if err := typ.Quantize(a, f.x, f.rows, f.cols, w); err != nil {
				t.Fatal(err)
			}
			if err := typ.Quantize(b, f.x, f.rows, f.cols, w); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("%s (imatrix %v): output depends on dst's old contents", typ, w != nil)
			}
		}
	}
}

// TestQuantizeKRoundTrip: dequantising the quantised fixture rows and some
// random and degenerate rows gives values close to the input (relative
// RMS error below a bound per type), zero rows stay zero, and the
// importance weights make the weighted error no worse than without them
// on the fixture rows taken together.
func TestQuantizeKRoundTrip(t *testing.T) {
	_, fs := kLoadFixtures(t)
	bound := map[Type]float64{Q2_K: 0.35, Q3_K: 0.2, Q4_K: 0.09, Q5_K: 0.045, Q6_K: 0.023, IQ4_XS: 0.1}
	rng := rand.New(rand.NewSource(1))
	gauss := make([]float32, 4*QK_K)
	for i := range gauss {
		gauss[i] = float32(rng.NormFloat64()) * 0.02
	}
	for _, typ := range kQuantTypes {
		tr, _ := Lookup(typ)
		roundTrip := func(x []float32, cols int, w []float32) []float32 {
			rows := len(x) / cols
			rb, _ := typ.RowBytes(int64(cols))
			q := make([]byte, int64(rows)*rb)
			if err := typ.Quantize(q, x, rows, cols, w); err != nil {
				t.Fatal(err)
			}
			y := make([]float32, len(x))
			tr.Dequantize(y, q)
			return y
		}
		relErr := func(x, y, w []float32, cols int) float64 {
			var num, den float64
			for i := range x {
				wi := 1.0
				if w != nil {
					wi = float64(w[i%cols])
				}
				d := float64(x[i]) - float64(y[i])
				num += wi * d * d
				den += wi * float64(x[i]) * float64(x[i])
			}
			return math.Sqrt(num / den)
		}
		cases := []struct {
			name string
			x, w []float32
			cols int
		}{{"gaussian", gauss, nil, QK_K}}
		for _, f := range fs {
			cases = append(cases, struct {
				name string
				x, w []float32
				cols int
			}{f.name, f.x, nil, f.cols}, struct {
				name string
				x, w []float32
				cols int
			}{f.name + "+imatrix", f.x, f.w, f.cols})
		}
		for _, c := range cases {
			y := roundTrip(c.x, c.cols, c.w)
			e := relErr(c.x, y, nil, c.cols)
			if !(e < bound[typ]) {
				t.Errorf("%s %s: relative RMS error %.4f, want < %.2f", typ, c.name, e, bound[typ])
			}
			t.Logf("%s %s: relative RMS error %.4f", typ, c.name, e)
		}
		var plain, weighted float64
		for _, f := range fs {
			plain += relErr(f.x, roundTrip(f.x, f.cols, nil), f.w, f.cols)
			weighted += relErr(f.x, roundTrip(f.x, f.cols, f.w), f.w, f.cols)
		}
		if weighted > plain {
			t.Errorf("%s: importance-weighted error %.4f with the imatrix, %.4f without", typ, weighted, plain)
		}
		// Degenerate rows: zeros (and a row of -0) dequantise to zeros;
		// a constant row comes back close.
		for _, v := range []float32{0, float32(math.Copysign(0, -1)), 1e-20} {
			x := make([]float32, QK_K)
			for i := range x {
				x[i] = v
			}
			for i, y := range roundTrip(x, QK_K, nil) {
				if y != 0 && math.Abs(float64(y-x[i])) > 1e-19 {
					t.Fatalf("%s: row of %g: value %d is %g", typ, v, i, y)
				}
			}
		}
		x := make([]float32, QK_K)
		for i := range x {
			x[i] = 0.5
		}
		for i, y := range roundTrip(x, QK_K, nil) {
			if math.Abs(float64(y)-0.5) > 0.02 {
				t.Fatalf("%s: row of 0.5: value %d is %g", typ, i, y)
			}
		}
	}
}

// TestKFP32ToFP16: ggml's conversion rounds to nearest even, with NaNs
// to 0x7e00 and the sign kept; checked against a plain reference on a
// spread of bit patterns and on every binary16 midpoint of one binade.
func TestKFP32ToFP16(t *testing.T) {
	ref := func(f float32) uint16 {
		b := math.Float32bits(f)
		sign := uint16(b>>16) & 0x8000
		if f != f {
			return sign | 0x7e00
		}
		a := math.Abs(float64(f))
		if a >= 65520 { // halfway between 65504 and 2^16 and beyond
			return sign | 0x7c00
		}
		// Scale to units of the binary16 ulp at this magnitude, round half even.
		e := math.Floor(math.Log2(a))
		if a == 0 || e < -14 {
			e = -14
		}
		ulp := math.Ldexp(1, int(e)-10)
		q := math.RoundToEven(a / ulp)
		v := q * ulp
		if v == 0 {
			return sign
		}
		// Encode v exactly.
		ev := math.Floor(math.Log2(v))
		if ev < -14 {
			return sign | uint16(v/math.Ldexp(1, -24))
		}
		m := v/math.Ldexp(1, int(ev)) - 1
		return sign | uint16(int(ev)+15)<<10 | uint16(math.Round(m*1024))
	}
	check := func(f float32) {
		if got, want := kFP32ToFP16(f), ref(f); got != want {
			t.Fatalf("kFP32ToFP16(%g, %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
	for b := uint64(0); b < 1<<32; b += 4099 {
		check(math.Float32frombits(uint32(b)))
	}
	for h := uint16(0x3c00); h < 0x4000; h++ { // midpoints in [1, 2): ties go to even
		m := (halfToFloat(h) + halfToFloat(h+1)) / 2
		check(m)
		check(-m)
	}
	for _, f := range []float32{0, float32(math.Copysign(0, -1)), 65504, 65519.99, 65520, float32(math.Inf(1)), float32(math.Inf(-1)), 5.96e-8, 2.98e-8, 2.99e-8} {
		check(f)
	}
}

// TestKNearestInt: nearest_int rounds halves to even for |x| < 2^22.
func TestKNearestInt(t *testing.T) {
	for _, f := range []float32{0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 4194303, -4194303, 3.7, -3.7} {
		if got, want := kNearestInt(f), int32(math.RoundToEven(float64(f))); got != want {
			t.Errorf("kNearestInt(%g) = %d, want %d", f, got, want)
		}
	}
}

// kGGUF is just enough of a GGUF reader for the tests (runtime/gguf
// imports this package, so the tests cannot use it).
type kGGUF struct {
	kv      map[string]any
	names   []string
	tensors map[string]kGGUFTensor
}

type kGGUFTensor struct {
	dims []int64
	typ  Type
	data []byte
}

func kParseGGUF(b []byte) (*kGGUF, error) {
	off := 0
	fail := func(what string) error { return fmt.Errorf("gguf: %s at byte %d", what, off) }
	need := func(n int) bool { return n >= 0 && len(b)-off >= n }
	u32 := func() uint32 { v := binary.LittleEndian.Uint32(b[off:]); off += 4; return v }
	u64 := func() uint64 { v := binary.LittleEndian.Uint64(b[off:]); off += 8; return v }
	str := func() (string, error) {
		if !need(8) {
			return "", fail("truncated string")
		}
		n := u64()
		if n > uint64(len(b)-off) {
			return "", fail("string too long")
		}
		s := string(b[off : off+int(n)])
		off += int(n)
		return s, nil
	}
	sizes := map[uint32]int{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
	var value func(t uint32) (any, error)
	value = func(t uint32) (any, error) {
		switch {
		case t == 8:
			return str()
		case t == 9:
			if !need(12) {
				return nil, fail("truncated array")
			}
			et, n := u32(), u64()
			if n > uint64(len(b)) {
				return nil, fail("array too long")
			}
			var a []any
			for i := uint64(0); i < n; i++ {
				v, err := value(et)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			return a, nil
		case sizes[t] > 0:
			n := sizes[t]
			if !need(n) {
				return nil, fail("truncated value")
			}
			v := append([]byte(nil), b[off:off+n]...)
			off += n
			if t == 4 {
				return binary.LittleEndian.Uint32(v), nil
			}
			return v, nil
		}
		return nil, fail(fmt.Sprintf("value type %d", t))
	}
	if !need(24) || string(b[:4]) != "GGUF" {
		return nil, fail("not GGUF")
	}
	off = 4
	if v := u32(); v != 3 && v != 2 {
		return nil, fail(fmt.Sprintf("version %d", v))
	}
	nt, nkv := u64(), u64()
	g := &kGGUF{kv: map[string]any{}, tensors: map[string]kGGUFTensor{}}
	for i := uint64(0); i < nkv; i++ {
		k, err := str()
		if err != nil {
			return nil, err
		}
		if !need(4) {
			return nil, fail("truncated kv")
		}
		v, err := value(u32())
		if err != nil {
			return nil, err
		}
		g.kv[k] = v
	}
	type info struct {
		dims   []int64
		typ    Type
		offset uint64
	}
	infos := map[string]info{}
	for i := uint64(0); i < nt; i++ {
		name, err := str()
		if err != nil {
			return nil, err
		}
		if !need(4) {
			return nil, fail("truncated tensor info")
		}
		nd := int(u32())
		if nd > 4 || !need(8*nd+12) {
			return nil, fail("bad tensor info")
		}
		dims := make([]int64, nd)
		for j := range dims {
			dims[j] = int64(u64())
		}
		typ := Type(u32())
		infos[name] = info{dims, typ, u64()}
		g.names = append(g.names, name)
	}
	align := 32
	if a, ok := g.kv["general.alignment"].(uint32); ok {
		align = int(a)
	}
	data := (off + align - 1) / align * align
	for _, name := range g.names {
		in := infos[name]
		n := int64(1)
		for _, d := range in.dims {
			n *= d
		}
		tr, ok := Lookup(in.typ)
		if !ok {
			return nil, fmt.Errorf("gguf: tensor %q: type %d", name, in.typ)
		}
		size := n / int64(tr.BlockSize) * int64(tr.BlockBytes)
		start := int64(data) + int64(in.offset)
		if start+size > int64(len(b)) {
			return nil, fmt.Errorf("gguf: tensor %q past the end", name)
		}
		g.tensors[name] = kGGUFTensor{in.dims, in.typ, b[start : start+size]}
	}
	return g, nil
}

func (g *kGGUF) lookup(name string) ([]int64, Type, []byte, bool) {
	t, ok := g.tensors[name]
	return t.dims, t.typ, t.data, ok
}

func kOpenGGUF(tb testing.TB, path string) *kGGUF {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	g, err := kParseGGUF(b)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return g
}

// TestImatrixFromGGUF: the reader gives, for the fixture tensors, the very
// weights the generator computed the way llama-quantize does, for every
// entry of the file; and its errors name the tensor.
func TestImatrixFromGGUF(t *testing.T) {
	g := kOpenGGUF(t, filepath.Join(kFixtureDir, "imatrix-wt103.gguf"))
	for _, k := range []string{ImatrixKeyDatasets, ImatrixKeyChunkCount, ImatrixKeyChunkSize} {
		if _, ok := g.kv[k]; !ok {
			t.Errorf("fixture imatrix lacks %s", k)
		}
	}
	w, err := ImatrixFromGGUF(g.lookup, g.names)
	if err != nil {
		t.Fatal(err)
	}
	if len(w) != len(g.names)/2 || len(w) != 45 {
		t.Errorf("%d entries from %d tensors, want 45", len(w), len(g.names))
	}
	_, fs := kLoadFixtures(t)
	for _, f := range fs {
		got := w[f.name]
		if len(got) != f.cols {
			t.Fatalf("%s: %d weights, want %d", f.name, len(got), f.cols)
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(f.w[i]) {
				t.Fatalf("%s: weight %d is %g, the generator's %g", f.name, i, got[i], f.w[i])
			}
		}
	}
	for name, v := range w {
		for i, x := range v {
			if !(x >= 0) {
				t.Fatalf("%s: weight %d is %g", name, i, x)
			}
		}
	}

	// Errors name the tensor.
	drop := func(skip string) []string {
		var n []string
		for _, s := range g.names {
			if s != skip {
				n = append(n, s)
			}
		}
		return n
	}
	if _, err := ImatrixFromGGUF(g.lookup, drop("blk.1.ffn_down.weight.counts")); err == nil || !strings.Contains(err.Error(), "blk.1.ffn_down.weight.in_sum2") {
		t.Errorf("sums without counts: %v", err)
	}
	if _, err := ImatrixFromGGUF(g.lookup, drop("blk.0.ssm_in.weight.in_sum2")); err == nil || !strings.Contains(err.Error(), "blk.0.ssm_in.weight.counts") {
		t.Errorf("counts without sums: %v", err)
	}
	badType := func(name string) ([]int64, Type, []byte, bool) {
		d, typ, b, ok := g.lookup(name)
		if name == "blk.5.attn_q.weight.counts" {
			typ = F16
		}
		return d, typ, b, ok
	}
	if _, err := ImatrixFromGGUF(badType, g.names); err == nil || !strings.Contains(err.Error(), "blk.5.attn_q.weight.counts") {
		t.Errorf("f16 counts: %v", err)
	}
	nan := func(name string) ([]int64, Type, []byte, bool) {
		d, typ, b, ok := g.lookup(name)
		if name == "blk.9.ssm_out.weight.in_sum2" {
			b = append([]byte(nil), b...)
			binary.LittleEndian.PutUint32(b[8:], 0x7fc00000)
		}
		return d, typ, b, ok
	}
	if _, err := ImatrixFromGGUF(nan, g.names); err == nil || !strings.Contains(err.Error(), "blk.9.ssm_out.weight") {
		t.Errorf("NaN sum: %v", err)
	}
	if _, err := ImatrixFromGGUF(g.lookup, []string{"x.weight"}); err == nil {
		t.Errorf("no imatrix tensors: no error")
	}

	// Per-expert counts, a zero count (weights 1), and counts that lround.
	sums := []float32{2, 4, 6, 8, 10, 12}
	counts := []float32{2.5, 0, 0.4}
	f32 := func(v []float32) []byte {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b
	}
	exp := func(name string) ([]int64, Type, []byte, bool) {
		switch name {
		case "e.in_sum2":
			return []int64{2, 3}, F32, f32(sums), true
		case "e.counts":
			return []int64{1, 3}, F32, f32(counts), true
		}
		return nil, 0, nil, false
	}
	got, err := ImatrixFromGGUF(exp, []string{"e.in_sum2", "e.counts"})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{2.0 / 3, 4.0 / 3, 1, 1, 1, 1} // lround(2.5) = 3; counts 0 and lround(0.4) = 0 give 1
	for i := range want {
		if got["e"][i] != want[i] {
			t.Fatalf("per-expert weights %v, want %v", got["e"], want)
		}
	}
}

// TestImatrixFromDat reads a legacy .dat built here.
func TestImatrixFromDat(t *testing.T) {
	var b bytes.Buffer
	put := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	put(int32(2))
	put(int32(len("a.weight")))
	b.WriteString("a.weight")
	put(int32(4)) // ncall
	put(int32(3))
	put([]float32{4, 8, 1})
	put(int32(len("b.weight")))
	b.WriteString("b.weight")
	put(int32(0))
	put(int32(1))
	put([]float32{7})
	put(int32(10)) // chunks
	put(int32(len("wiki.txt")))
	b.WriteString("wiki.txt")
	w, ds, err := ImatrixFromDat(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(w["a.weight"]) != "[1 2 0.25]" || fmt.Sprint(w["b.weight"]) != "[7]" || fmt.Sprint(ds) != "[wiki.txt]" {
		t.Errorf("got %v %v", w, ds)
	}
	if _, _, err := ImatrixFromDat(b.Bytes()[:30]); err == nil || !strings.Contains(err.Error(), "a.weight") {
		t.Errorf("truncated: %v", err)
	}
}

// TestQuantizeKWholeFiles compares every tensor of llama-quantize's --pure
// files with Go's quantisation of the bf16 source, when
// HYQUANT_QUANTK_DIR names the directory that holds them (see
// README-quant-k.md; HYQUANT_QUANTK_SRC and HYQUANT_QUANTK_IMATRIX
// override the source and imatrix paths). Skipped otherwise.
func TestQuantizeKWholeFiles(t *testing.T) {
	dir := os.Getenv("HYQUANT_QUANTK_DIR")
	if dir == "" {
		t.Skip("HYQUANT_QUANTK_DIR not set")
	}
	srcPath := os.Getenv("HYQUANT_QUANTK_SRC")
	if srcPath == "" {
		srcPath = "/work/shared/reference/nemotron-h-mini.bf16.gguf"
	}
	imPath := os.Getenv("HYQUANT_QUANTK_IMATRIX")
	if imPath == "" {
		imPath = filepath.Join(kFixtureDir, "imatrix-wt103.gguf")
	}
	src := kOpenGGUF(t, srcPath)
	im := kOpenGGUF(t, imPath)
	weights, err := ImatrixFromGGUF(im.lookup, im.names)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := kLoadFixtures(t)
	for _, ft := range m.Types {
		typ, _ := ParseType(ft.Type)
		for _, mode := range []string{"plain", "imat"} {
			path := filepath.Join(dir, mode+"-"+ft.FType+".gguf")
			if _, err := os.Stat(path); err != nil {
				t.Logf("%s: %v", path, err)
				continue
			}
			t.Run(ft.Type+"/"+mode, func(t *testing.T) {
				q := kOpenGGUF(t, path)
				names := append([]string(nil), q.names...)
				sort.Strings(names)
				start := time.Now()
				n, values := 0, 0
				for _, name := range names {
					qt := q.tensors[name]
					if qt.typ != typ {
						continue
					}
					st, ok := src.tensors[name]
					if !ok || st.typ != BF16 || len(st.dims) != 2 {
						t.Fatalf("%s: not a 2-D bf16 tensor in the source", name)
					}
					cols, rows := int(st.dims[0]), int(st.dims[1])
					x := make([]float32, rows*cols)
					for i := range x {
						x[i] = bf16ToFloat(le16(st.data[2*i:]))
					}
					var w []float32
					if mode == "imat" {
						if v, ok := weights[name]; ok && len(v) == cols {
							w = v
						}
					}
					got := make([]byte, len(qt.data))
					if err := typ.Quantize(got, x, rows, cols, w); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, qt.data) {
						bpr := cols / QK_K
						t.Errorf("%s (imatrix %v): %s", name, w != nil, kFirstDiff(typ, got, qt.data, func(b int) string {
							return fmt.Sprintf("row %d, super-block %d", b/bpr, b%bpr)
						}))
					}
					n++
					values += len(x)
				}
				if n == 0 {
					t.Fatalf("no %s tensors in %s", typ, path)
				}
				t.Logf("%d tensors, %d values, %.1f s", n, values, time.Since(start).Seconds())
			})
		}
	}
}

// BenchmarkQuantizeK quantises the 1280-wide fixture rows, reporting
// values per second.
func BenchmarkQuantizeK(b *testing.B) {
	_, fs := kLoadFixtures(b)
	f := fs[1]
	for _, typ := range kQuantTypes {
		for _, mode := range []string{"plain", "imatrix"} {
			b.Run(typ.String()+"/"+mode, func(b *testing.B) {
				var w []float32
				if mode == "imatrix" {
					w = f.w
				}
				rb, _ := typ.RowBytes(int64(f.cols))
				dst := make([]byte, int64(f.rows)*rb)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := typ.Quantize(dst, f.x, f.rows, f.cols, w); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)*float64(len(f.x))/b.Elapsed().Seconds(), "values/s")
			})
		}
	}
}

// BenchmarkQuantizeMatrix quantises a whole 512×1280 matrix (seeded
// normal values), where the rows run on every CPU; values per second.
func BenchmarkQuantizeMatrix(b *testing.B) {
	const rows, cols = 512, 1280
	rng := rand.New(rand.NewSource(7))
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for _, typ := range []Type{Q4_K, Q6_K, Q8_0} {
		b.Run(typ.String(), func(b *testing.B) {
			rb, _ := typ.RowBytes(cols)
			dst := make([]byte, rows*rb)
			for i := 0; i < b.N; i++ {
				if err := typ.Quantize(dst, x, rows, cols, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)*rows*cols/b.Elapsed().Seconds(), "values/s")
		})
	}
}
