package ggml

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// legacyQuantTypes are the types with a quantiser in q*_0_quant.go,
// q*_1_quant.go and iq4_nl_quant.go.
var legacyQuantTypes = []Type{Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL}

// legacyFixtureTensors is the layout of testdata/quant/legacy.in.f32 (see
// testdata/README-quant-legacy.md): rows of these widths one after the
// other, and one importance weight per column of each tensor in
// legacy.imatrix.f32.
var legacyFixtureTensors = []struct {
	name       string
	cols, rows int
}{
	{"blk.0.ssm_in.weight", 256, 4},
	{"blk.1.ffn_down.weight", 1280, 2},
}

func readF32File(tb testing.TB, path string) []float32 {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if len(raw)%4 != 0 {
		tb.Fatalf("%s: %d bytes is not a whole number of float32", path, len(raw))
	}
	v := make([]float32, len(raw)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}

// legacyFixtureInput returns the fixture rows and importance weights.
func legacyFixtureInput(tb testing.TB) (x, imatrix []float32) {
	tb.Helper()
	x = readF32File(tb, filepath.Join("testdata", "quant", "legacy.in.f32"))
	imatrix = readF32File(tb, filepath.Join("testdata", "quant", "legacy.imatrix.f32"))
	nx, nw := 0, 0
	for _, ft := range legacyFixtureTensors {
		nx += ft.cols * ft.rows
		nw += ft.cols
	}
	if len(x) != nx || len(imatrix) != nw {
		tb.Fatalf("fixture: %d values and %d weights, layout wants %d and %d", len(x), len(imatrix), nx, nw)
	}
	return x, imatrix
}

// quantizeLegacyFixture quantises the fixture rows tensor by tensor, with
// that tensor's importance weights or none.
func quantizeLegacyFixture(tb testing.TB, typ Type, x, imatrix []float32, useImatrix bool) []byte {
	tb.Helper()
	var out []byte
	for _, ft := range legacyFixtureTensors {
		rb, err := typ.RowBytes(int64(ft.cols))
		if err != nil {
			tb.Fatal(err)
		}
		var w []float32
		if useImatrix {
			w = imatrix[:ft.cols]
		}
		dst := make([]byte, int(rb)*ft.rows)
		if err := typ.Quantize(dst, x[:ft.cols*ft.rows], ft.rows, ft.cols, w); err != nil {
			tb.Fatal(err)
		}
		out = append(out, dst...)
		x = x[ft.cols*ft.rows:]
		imatrix = imatrix[ft.cols:]
	}
	return out
}

// TestQuantizeLegacyMatchesLlamaQuantize requires, for each type, with and
// without the importance matrix, the very bytes llama-quantize wrote.
func TestQuantizeLegacyMatchesLlamaQuantize(t *testing.T) {
	x, imatrix := legacyFixtureInput(t)
	for _, typ := range legacyQuantTypes {
		for _, mode := range []string{"plain", "imatrix"} {
			t.Run(typ.String()+"/"+mode, func(t *testing.T) {
				tr, _ := Lookup(typ)
				if tr.Quantize == nil {
					t.Fatal("no quantiser registered")
				}
				want, err := os.ReadFile(filepath.Join("testdata", "quant", typ.String()+"."+mode+".blocks.bin"))
				if err != nil {
					t.Fatal(err)
				}
				got := quantizeLegacyFixture(t, typ, x, imatrix, mode == "imatrix")
				if len(got) != len(want) {
					t.Fatalf("%d bytes, llama-quantize wrote %d", len(got), len(want))
				}
				bad := 0
				for i := 0; i < len(want); i += tr.BlockBytes {
					g, w := got[i:i+tr.BlockBytes], want[i:i+tr.BlockBytes]
					if !bytes.Equal(g, w) {
						if bad < 5 {
							t.Errorf("block %d:\n got  % x\n want % x", i/tr.BlockBytes, g, w)
						}
						bad++
					}
				}
				if bad > 0 {
					t.Errorf("%d of %d blocks differ", bad, len(want)/tr.BlockBytes)
				}
			})
		}
	}
}

// legacyEdgeGroups is the layout of testdata/quant/edge.in.f32: rows of
// 32 values (each block a row of its own), then rows of 256;
// edge.imatrix.f32 holds 32 weights for the first group, 256 for the
// second.
var legacyEdgeGroups = []struct{ cols, rows int }{{32, 36}, {256, 3}}

// TestQuantizeLegacyEdgeMatchesGGML requires the bytes that libggml-base's
// ggml_quantize_chunk (what llama-quantize calls) gave the hand-made edge
// rows: ties, zero/constant/one-sided blocks, float32 subnormals (1/d
// overflows to Inf), scales beyond binary16, zero importance weights.
func TestQuantizeLegacyEdgeMatchesGGML(t *testing.T) {
	x := readF32File(t, filepath.Join("testdata", "quant", "edge.in.f32"))
	w := readF32File(t, filepath.Join("testdata", "quant", "edge.imatrix.f32"))
	nx, nw := 0, 0
	for _, g := range legacyEdgeGroups {
		nx += g.cols * g.rows
		nw += g.cols
	}
	if len(x) != nx || len(w) != nw {
		t.Fatalf("edge fixture: %d values, %d weights; layout wants %d, %d", len(x), len(w), nx, nw)
	}
	for _, typ := range legacyQuantTypes {
		for _, mode := range []string{"plain", "imatrix"} {
			t.Run(typ.String()+"/"+mode, func(t *testing.T) {
				tr, _ := Lookup(typ)
				want, err := os.ReadFile(filepath.Join("testdata", "quant", typ.String()+"."+mode+".edge.bin"))
				if err != nil {
					t.Fatal(err)
				}
				var got []byte
				xs, ws := x, w
				for _, g := range legacyEdgeGroups {
					var im []float32
					if mode == "imatrix" {
						im = ws[:g.cols]
					}
					dst := make([]byte, g.rows*g.cols/32*tr.BlockBytes)
					if err := typ.Quantize(dst, xs[:g.rows*g.cols], g.rows, g.cols, im); err != nil {
						t.Fatal(err)
					}
					got = append(got, dst...)
					xs, ws = xs[g.rows*g.cols:], ws[g.cols:]
				}
				if len(got) != len(want) {
					t.Fatalf("%d bytes, ggml wrote %d", len(got), len(want))
				}
				for i := 0; i < len(want); i += tr.BlockBytes {
					if g, w := got[i:i+tr.BlockBytes], want[i:i+tr.BlockBytes]; !bytes.Equal(g, w) {
						v := x[i/tr.BlockBytes*32:][:32]
						t.Errorf("block %d (input %g ...):\n got  % x\n want % x", i/tr.BlockBytes, v[:4], g, w)
					}
				}
			})
		}
	}
}

// The stress rows of make_quant_edge_legacy.py (stress_input): only the
// SHA-256 of ggml_quantize_chunk's output is stored, per chunk of rows.
const legacyStressRows, legacyStressCols, legacyStressChunk = 512, 512, 64

// legacySplitmix64 returns the first n outputs of splitmix64 from seed.
func legacySplitmix64(seed uint64, n int) []uint64 {
	z := make([]uint64, n)
	for i := range z {
		seed += 0x9E3779B97F4A7C15
		v := seed
		v = (v ^ v>>30) * 0xBF58476D1CE4E5B9
		v = (v ^ v>>27) * 0x94D049BB133111EB
		z[i] = v ^ v>>31
	}
	return z
}

// legacyStressInput regenerates stress_input() of make_quant_edge_legacy.py
// bit for bit.
func legacyStressInput() (x, w []float32) {
	z := legacySplitmix64(1, legacyStressRows*legacyStressCols)
	x = make([]float32, len(z))
	for i, v := range z {
		m := uint32(v >> 40)
		e := int(v >> 32 & 7)
		switch (i / legacyStressCols) % 4 {
		case 1:
			m &= 0xff0000
		case 2:
			m &= 0xe00000
		case 3:
			e = 0
		}
		f := float32(math.Ldexp(float64(m), -(28 + e)))
		if v&1 == 1 {
			f = -f
		}
		x[i] = f
	}
	zw := legacySplitmix64(2, legacyStressCols)
	w = make([]float32, len(zw))
	for i, v := range zw {
		if v&15 != 0 {
			w[i] = float32(1+(v>>40&0xffff)) / 1024
		}
	}
	return x, w
}

// TestQuantizeLegacyStressDigests: on 8192 synthetic blocks per type and
// mode (coarse values that make ties and repeats, zero weights), the
// digests of what ggml_quantize_chunk wrote.
func TestQuantizeLegacyStressDigests(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "quant", "stress.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) == 3 && !strings.HasPrefix(line, "#") {
			want[f[0]+" "+f[1]] = f[2]
		}
	}
	x, w := legacyStressInput()
	nchunk := legacyStressRows / legacyStressChunk
	if len(want) != len(legacyQuantTypes)*2*nchunk {
		t.Fatalf("stress.sha256: %d digests, want %d", len(want), len(legacyQuantTypes)*2*nchunk)
	}
	for _, typ := range legacyQuantTypes {
		for _, mode := range []string{"plain", "imatrix"} {
			t.Run(typ.String()+"/"+mode, func(t *testing.T) {
				var im []float32
				if mode == "imatrix" {
					im = w
				}
				rb, _ := typ.RowBytes(legacyStressCols)
				dst := make([]byte, int(rb)*legacyStressChunk)
				for c := 0; c < nchunk; c++ {
					src := x[c*legacyStressChunk*legacyStressCols:][:legacyStressChunk*legacyStressCols]
					if err := typ.Quantize(dst, src, legacyStressChunk, legacyStressCols, im); err != nil {
						t.Fatal(err)
					}
					key := fmt.Sprintf("%s.%s %d", typ, mode, c)
					if got := fmt.Sprintf("%x", sha256.Sum256(dst)); got != want[key] {
						t.Errorf("rows %d-%d: sha256 %s, ggml's %s", c*legacyStressChunk, (c+1)*legacyStressChunk-1, got, want[key])
					}
				}
			})
		}
	}
}

// TestQuantizeLegacyRoundTrip: dequantize(quantize(x)) stays within the
// error each format allows; a block's worst error is bounded by a
// fraction of its largest magnitude (or its range for the types with a
// minimum), with slack for the binary16 scale and the imatrix search.
func TestQuantizeLegacyRoundTrip(t *testing.T) {
	x, imatrix := legacyFixtureInput(t)
	// Largest |error| as a fraction of the block's amax (or max-min).
	// Q4_0 and Q5_0 map the largest magnitude to level -8 (-16), so a value
	// of the other sign near it clamps to +7 (+15): up to a whole step off.
	bound := map[Type]float64{Q8_0: 0.6 / 127, Q4_0: 1.05 / 8, Q4_1: 0.6 / 15, Q5_0: 1.05 / 16, Q5_1: 0.6 / 31, IQ4_NL: 0.2}
	for _, typ := range legacyQuantTypes {
		for _, useIm := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/imatrix=%v", typ, useIm), func(t *testing.T) {
				q := quantizeLegacyFixture(t, typ, x, imatrix, useIm)
				y := make([]float32, len(x))
				if err := typ.Dequantize(y, q); err != nil {
					t.Fatal(err)
				}
				f := bound[typ]
				if useIm {
					f *= 2 // the weighted fit may trade a worse max error for a better weighted one
				}
				var sse, ssx float64
				for b := 0; b < len(x); b += 32 {
					lo, hi, amax := math.Inf(1), math.Inf(-1), 0.0
					for _, v := range x[b : b+32] {
						lo, hi, amax = math.Min(lo, float64(v)), math.Max(hi, float64(v)), math.Max(amax, math.Abs(float64(v)))
					}
					span := amax
					if typ == Q4_1 || typ == Q5_1 {
						span = hi - math.Min(lo, 0)
					}
					for j := b; j < b+32; j++ {
						e := float64(y[j]) - float64(x[j])
						sse += e * e
						ssx += float64(x[j]) * float64(x[j])
						if math.Abs(e) > f*span+1e-7 {
							t.Fatalf("value %d: %g came back as %g, error above %.3g of the block's %g", j, x[j], y[j], f, span)
						}
					}
				}
				t.Logf("relative RMS error %.4f", math.Sqrt(sse/ssx))
			})
		}
	}
}

// TestQuantizeLegacyHalfway covers values exactly at the half-way points
// of each reference rounding, where llama.cpp's casts decide: roundf goes
// away from zero (Q8_0), trunc(x+8.5) / trunc(x+0.5) goes up (Q4_0, Q4_1,
// Q5_0, Q5_1), and nearest_int goes to even (the imatrix paths).
func TestQuantizeLegacyHalfway(t *testing.T) {
	// Q8_0: amax 127 gives d = 1 exactly; x = ±k+0.5 rounds away from 0.
	x := make([]float32, 32)
	x[0] = 127
	for j := 1; j < 32; j++ {
		x[j] = float32(j%16) - 7.5 // -7.5 ... 7.5, all halves
	}
	q := make([]byte, q8_0Bytes)
	quantizeQ8_0(q, x, nil)
	if h := le16(q); h != 0x3c00 {
		t.Fatalf("Q8_0 d = %#04x, want 1.0 (0x3c00)", h)
	}
	for j := 1; j < 32; j++ {
		want := int8(math.Round(float64(x[j]))) // away from zero
		if got := int8(q[2+j]); got != want {
			t.Errorf("Q8_0 %g -> %d, want %d", x[j], got, want)
		}
	}

	// Q4_0: max -8 gives d = 1; x/d + 8.5 truncates, so k-8+0.5 -> k+1
	// for the halves k+0.5-8 (ties go up).
	for j := range x {
		x[j] = float32(j%16) - 8 + 0.5
	}
	x[0] = -8
	q = make([]byte, q4_0Bytes)
	quantizeQ4_0(q, x, nil)
	if h := le16(q); h != 0x3c00 {
		t.Fatalf("Q4_0 d = %#04x, want 0x3c00", h)
	}
	for j := 1; j < 32; j++ {
		nib := q[2+j%16] & 0x0f
		if j >= 16 {
			nib = q[2+j%16] >> 4
		}
		want := min(15, int(math.Floor(float64(x[j])+8.5)))
		if int(nib) != want {
			t.Errorf("Q4_0 %g -> %d, want %d", x[j], nib, want)
		}
	}

	// Q5_1: min 0, max 31 gives d = 1, id = 1; halves k+0.5 go up to k+1.
	for j := range x {
		x[j] = float32(j) - 0.5
	}
	x[0], x[31] = 0, 31
	q = make([]byte, q5_1Bytes)
	quantizeQ5_1(q, x, nil)
	y := make([]float32, 32)
	dequantizeQ5_1(y, q)
	for j := 1; j < 31; j++ {
		if want := x[j] + 0.5; y[j] != want {
			t.Errorf("Q5_1 %g -> %g, want %g", x[j], y[j], want)
		}
	}

	// nearest_int: ties to even, as the 1.5·2^23 trick gives.
	for _, c := range []struct {
		x    float32
		want int
	}{{0.5, 0}, {1.5, 2}, {2.5, 2}, {-0.5, 0}, {-1.5, -2}, {-2.5, -2}, {7.49999952, 7}, {15.5, 16}, {-16.5, -16}} {
		if got := legacyNearestInt(c.x); got != c.want {
			t.Errorf("nearest_int(%g) = %d, want %d", c.x, got, c.want)
		}
	}

	// IQ4_NL's code book: a value half-way between two entries takes the
	// upper one (best_index_int8 compares with <).
	for i := 0; i+1 < 16; i++ {
		a, b := float32(kvaluesIQ4NL[i]), float32(kvaluesIQ4NL[i+1])
		if mid := (a + b) / 2; bestIndexIQ4NL(mid) != uint8(i+1) {
			t.Errorf("best index of %g (between %g and %g) = %d, want %d", mid, a, b, bestIndexIQ4NL(mid), i+1)
		}
	}
}

// TestLegacyBestIndexIQ4NL: the table lookup picks what C's bisection
// picks, for every float32 within 4096 ulps of each integer and each
// half-integer in the code book's range, random values, and the specials.
func TestLegacyBestIndexIQ4NL(t *testing.T) {
	check := func(x float32) {
		if got, want := bestIndexIQ4NL(x), legacyBestIndexIQ4NLBisect(x); got != want {
			t.Fatalf("best index of %g (%#08x): %d, bisection %d", x, math.Float32bits(x), got, want)
		}
	}
	for k := -260; k <= 240; k++ {
		c := float32(k) / 2
		check(c)
		up, down := c, c
		for i := 0; i < 4096; i++ {
			up = math.Nextafter32(up, float32(math.Inf(1)))
			down = math.Nextafter32(down, float32(math.Inf(-1)))
			check(up)
			check(down)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 100000; i++ {
		check(float32(rng.NormFloat64() * 60))
		check(math.Float32frombits(rng.Uint32()))
	}
	for _, x := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1e-45, -1e-45, math.MaxFloat32, -math.MaxFloat32} {
		check(x)
	}
}

// TestLegacyFP32ToFP16 checks the float→half rounding on its edges and
// against a plain float64 reference on random values.
func TestLegacyFP32ToFP16(t *testing.T) {
	for _, c := range []struct {
		f    float32
		want uint16
	}{
		{0, 0}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00}, {-2, 0xc000},
		{65504, 0x7bff}, {65519.996, 0x7bff}, {65520, 0x7c00}, {-1e10, 0xfc00},
		{float32(math.Inf(1)), 0x7c00}, {float32(math.NaN()), 0x7e00},
		{math.Float32frombits(0xffc00001), 0xfe00},
		{0x1p-14, 0x0400}, {0x1p-24, 0x0001}, {0x1p-25, 0}, {0x1.000002p-25, 0x0001},
		{0x1.8p-24, 0x0002}, {0x1.4p-23, 0x0002}, {0x1.cp-23, 0x0004},
		{0x1.ffcp-15, 0x0400}, // largest subnormal plus a half unit: rounds to even, the smallest normal
		{1 + 0x1p-11, 0x3c00}, {1 + 0x3p-11, 0x3c02}, {1 + 0x1p-11 + 0x1p-23, 0x3c01},
		{0x1p-149, 0},
	} {
		if got := legacyFP32ToFP16(c.f); got != c.want {
			t.Errorf("fp16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
	// Round trip of every finite half.
	for h := 0; h < 0x10000; h++ {
		if h&0x7c00 == 0x7c00 {
			continue
		}
		if got := legacyFP32ToFP16(halfToFloat(uint16(h))); got != uint16(h) {
			t.Fatalf("fp16(half %#04x) = %#04x", h, got)
		}
	}
	// Random values: the nearest half (ties to even) by float64 search.
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200000; n++ {
		f := math.Float32frombits(rng.Uint32()&^(0xff<<23) | uint32(90+rng.IntN(52))<<23) // 2^-37 to below 2^15
		got := legacyFP32ToFP16(f)
		a := float64(f)
		h := legacyFP32ToFP16Slow(a)
		if got != h {
			t.Fatalf("fp16(%g = %#08x) = %#04x, want %#04x", f, math.Float32bits(f), got, h)
		}
	}
}

// legacyFP32ToFP16Slow rounds a finite value below 65520 in magnitude to
// the nearest binary16, ties to even, through its neighbours.
func legacyFP32ToFP16Slow(a float64) uint16 {
	var sign uint16
	if math.Signbit(a) {
		sign, a = 0x8000, -a
	}
	// Halves are monotone in their bits; find the largest not above a.
	lo := uint16(0)
	for hi := uint16(0x7c00); hi-lo > 1; {
		mid := (lo + hi) / 2
		if float64(halfToFloat(mid)) <= a {
			lo = mid
		} else {
			hi = mid
		}
	}
	dlo := a - float64(halfToFloat(lo))
	dhi := float64(halfToFloat(lo+1)) - a
	if dhi < dlo || dhi == dlo && lo&1 == 1 {
		lo++
	}
	return sign | lo
}

// TestQuantizeLegacyZeroBlocks: all-zero blocks, with and without
// weights, give what llama.cpp gives them (d 0; Q4_0/Q5_0's reference
// puts the zero level, the imatrix path level 0; IQ4_NL the index of 1).
func TestQuantizeLegacyZeroBlocks(t *testing.T) {
	x := make([]float32, 64)
	for i := 32; i < 64; i++ {
		x[i] = float32(i-40) / 16
	}
	w := make([]float32, 64)
	for i := range w {
		w[i] = 1
	}
	for _, typ := range legacyQuantTypes {
		tr, _ := Lookup(typ)
		for _, im := range [][]float32{nil, w} {
			q := make([]byte, 2*tr.BlockBytes)
			if err := typ.Quantize(q, x, 1, 64, im); err != nil {
				t.Fatal(err)
			}
			y := make([]float32, 64)
			typ.Dequantize(y, q)
			for j := 0; j < 32; j++ {
				if y[j] != 0 {
					t.Errorf("%s imatrix=%v: zero block value %d dequantises to %g (block % x)", typ, im != nil, j, y[j], q[:tr.BlockBytes])
					break
				}
			}
		}
	}
}

// BenchmarkQuantizeLegacy reports values/s for each type, with and
// without importance weights, on 256 rows of 1280.
func BenchmarkQuantizeLegacy(b *testing.B) {
	const rows, cols = 256, 1280
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 0.02)
	}
	w := make([]float32, cols)
	for i := range w {
		w[i] = float32(rng.ExpFloat64())
	}
	for _, typ := range legacyQuantTypes {
		for _, im := range []bool{false, true} {
			var qw []float32
			if im {
				qw = w
			}
			b.Run(fmt.Sprintf("%s/imatrix=%v", typ, im), func(b *testing.B) {
				rb, _ := typ.RowBytes(cols)
				dst := make([]byte, int(rb)*rows)
				b.SetBytes(int64(4 * len(x)))
				start := time.Now()
				for b.Loop() {
					if err := typ.Quantize(dst, x, rows, cols, qw); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)*float64(len(x))/time.Since(start).Seconds(), "values/s")
			})
		}
	}
}

// legacyBestIndexIQ4NLBisect is best_index_int8 as C writes it, the reference
// for bestIndexIQ4NL's table.
func legacyBestIndexIQ4NLBisect(x float32) uint8 {
	values := &kvaluesIQ4NL
	if x <= float32(values[0]) {
		return 0
	}
	if x >= float32(values[15]) {
		return 15
	}
	ml, mu := 0, 15
	for mu-ml > 1 {
		mav := (ml + mu) / 2
		if x < float32(values[mav]) {
			mu = mav
		} else {
			ml = mav
		}
	}
	if x-float32(values[mu-1]) < float32(values[mu])-x {
		return uint8(mu - 1)
	}
	return uint8(mu)
}
