package ggml

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"testing"
)

// iQuantTypes are the 2-3 bit i-quants of iq2_*.go and iq3_*.go. Each has a
// fixture pair in testdata (see testdata/README-iquants.md): <name>.bin,
// real blocks llama-quantize wrote with an importance matrix followed by
// edge blocks (d = ±0, smallest subnormal, ±largest finite, +Inf), and
// <name>.f32, gguf-py's dequantisation of them, which libggml's
// dequantize_row_<name> was checked to match bit for bit.
var iQuantTypes = []struct {
	typ        Type
	realBlocks int // blocks taken from the GGUF file; the rest are edge blocks
}{
	{IQ2_XXS, 7}, {IQ2_XS, 7}, {IQ2_S, 7}, {IQ3_XXS, 7}, {IQ3_S, 7},
}

// TestIQDequantizeMatchesGGUFPy requires every float32 to carry the very
// bits gguf-py (and llama.cpp) give, real blocks and edge blocks alike.
func TestIQDequantizeMatchesGGUFPy(t *testing.T) {
	for _, c := range iQuantTypes {
		t.Run(c.typ.String(), func(t *testing.T) {
			tr, _ := Lookup(c.typ)
			if !c.typ.CanDequantize() {
				t.Fatal("no dequantisation registered")
			}
			src, want := readDequantFixture(t, c.typ)
			if len(src)%tr.BlockBytes != 0 {
				t.Fatalf("fixture: %d bytes, not whole %d-byte blocks", len(src), tr.BlockBytes)
			}
			nb := len(src) / tr.BlockBytes
			if nb < c.realBlocks+1 || nb*tr.BlockSize != len(want) {
				t.Fatalf("fixture: %d blocks, %d values (want > %d blocks, %d values each)", nb, len(want), c.realBlocks, tr.BlockSize)
			}
			got := make([]float32, len(want))
			for i := range got {
				got[i] = float32(math.NaN()) // every value must be written
			}
			if err := c.typ.Dequantize(got, src); err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					if bad < 5 {
						kind := "real"
						if i/tr.BlockSize >= c.realBlocks {
							kind = "edge"
						}
						t.Errorf("value %d (%s block %d): got %g (%#08x), gguf-py %g (%#08x)", i, kind, i/tr.BlockSize,
							got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d values differ", bad, len(want))
			}
		})
	}
}

// TestIQBlockLayout ties each file's block size to the type table's.
func TestIQBlockLayout(t *testing.T) {
	for typ, bytes := range map[Type]int{
		IQ2_XXS: iq2_XXSBytes, IQ2_XS: iq2_XSBytes, IQ2_S: iq2_SBytes,
		IQ3_XXS: iq3_XXSBytes, IQ3_S: iq3_SBytes,
	} {
		tr, _ := Lookup(typ)
		if tr.BlockBytes != bytes || tr.BlockSize != QK_K {
			t.Errorf("%s: table says %d values in %d bytes, file %d in %d", typ, tr.BlockSize, tr.BlockBytes, QK_K, bytes)
		}
	}
}

// TestIQGrids checks the generated tables: entry counts, that every entry
// is made of the lattice's own values, and that no entry repeats.
func TestIQGrids(t *testing.T) {
	check := func(name string, entries []uint64, want, width int, values ...uint8) {
		if len(entries) != want {
			t.Errorf("%s: %d entries, want %d", name, len(entries), want)
		}
		ok := map[uint8]bool{}
		for _, v := range values {
			ok[v] = true
		}
		seen := map[uint64]int{}
		for i, e := range entries {
			for j := range width {
				if v := uint8(e >> (8 * j)); !ok[v] {
					t.Errorf("%s[%d] = %#x: value %d is %d, not a lattice value", name, i, e, j, v)
				}
			}
			if width < 8 && e>>(8*width) != 0 {
				t.Errorf("%s[%d] = %#x: more than %d values", name, i, e, width)
			}
			if k, dup := seen[e]; dup {
				t.Errorf("%s[%d] repeats entry %d", name, i, k)
			}
			seen[e] = i
		}
	}
	widen := func(g []uint32) []uint64 {
		w := make([]uint64, len(g))
		for i, v := range g {
			w[i] = uint64(v)
		}
		return w
	}
	check("iq2xxs_grid", iq2xxs_grid[:], 256, 8, 0x08, 0x19, 0x2b)
	check("iq2xs_grid", iq2xs_grid[:], 512, 8, 0x08, 0x19, 0x2b)
	check("iq2s_grid", iq2s_grid[:], 1024, 8, 0x08, 0x19, 0x2b)
	check("iq3xxs_grid", widen(iq3xxs_grid[:]), 256, 4, 0x04, 0x0c, 0x14, 0x1c, 0x24, 0x2c, 0x34, 0x3e)
	check("iq3s_grid", widen(iq3s_grid[:]), 512, 4, 0x01, 0x03, 0x05, 0x07, 0x09, 0x0b, 0x0d, 0x0f)

	if len(ksigns_iq2xs) != 128 {
		t.Errorf("ksigns_iq2xs: %d entries, want 128", len(ksigns_iq2xs))
	}
	for i, s := range ksigns_iq2xs {
		ones := 0
		for b := s; b != 0; b &= b - 1 {
			ones++
		}
		if int(s&127) != i || ones%2 != 0 {
			t.Errorf("ksigns_iq2xs[%d] = %#x: want low 7 bits %#x and an even number of minus signs", i, s, i)
		}
	}
	for i, g := range iq2sGridF {
		for j, v := range g {
			if v != float32(uint8(iq2s_grid[i]>>(8*j))) {
				t.Fatalf("iq2sGridF[%d][%d] = %g, grid byte %d", i, j, v, uint8(iq2s_grid[i]>>(8*j)))
			}
		}
	}
	for i, g := range iq3sGridF {
		for j, v := range g {
			if v != float32(uint8(iq3s_grid[i]>>(8*j))) {
				t.Fatalf("iq3sGridF[%d][%d] = %g, grid byte %d", i, j, v, uint8(iq3s_grid[i]>>(8*j)))
			}
		}
	}
	for j, m := range kmask_iq2xs {
		if m != 1<<j {
			t.Errorf("kmask_iq2xs[%d] = %d, want %d", j, m, 1<<j)
		}
	}
}

// TestIQGridDigests pins every table to the SHA-256 (of its little-endian
// words) that testdata/make_grids.py printed from gguf-py's own tables when
// grids.go was generated: the fixtures use only part of each grid, this
// covers every entry.
func TestIQGridDigests(t *testing.T) {
	words := func(n int, word func(i int) uint64, size int) []byte {
		b := make([]byte, 0, n*size)
		for i := range n {
			b = binary.LittleEndian.AppendUint64(b, word(i))[:len(b)+size]
		}
		return b
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"iq2xxs_grid", words(len(iq2xxs_grid), func(i int) uint64 { return iq2xxs_grid[i] }, 8), "05826b5d3e472a3a78f196be62ac78acf81df0f909626e12ab9fa2a5d490dd54"},
		{"iq2xs_grid", words(len(iq2xs_grid), func(i int) uint64 { return iq2xs_grid[i] }, 8), "06e47aaca60b4dc1d9b5a3f34540437058a6b142b4d7a59d5ded769b4d1bf1de"},
		{"iq2s_grid", words(len(iq2s_grid), func(i int) uint64 { return iq2s_grid[i] }, 8), "e1aa1473412b0552c2174c30ef22ab4073f6a181b85a17056e8249bd2932fd88"},
		{"iq3xxs_grid", words(len(iq3xxs_grid), func(i int) uint64 { return uint64(iq3xxs_grid[i]) }, 4), "46e35f5a997efdee6c99ce57854c8a0d4f0ff8ca57e5e8a60c0793ea580acf5d"},
		{"iq3s_grid", words(len(iq3s_grid), func(i int) uint64 { return uint64(iq3s_grid[i]) }, 4), "bd1af4945a1717c65610b0284e4628b9a1ba3b306fae3a06f6e5f597356e349f"},
		{"ksigns_iq2xs", ksigns_iq2xs[:], "a76742a603f8beca5212ecce0f1f02f11a4887fd2f7c8b15aca0ea3eb3380c31"},
	} {
		sum := sha256.Sum256(c.data)
		if got := hex.EncodeToString(sum[:]); got != c.want {
			t.Errorf("%s: sha256 %s, make_grids.py printed %s: regenerate grids.go, do not edit it", c.name, got, c.want)
		}
	}
}

// TestIQHalf compares the block-scale conversion with a float64 reference
// for every binary16 bit pattern.
func TestIQHalf(t *testing.T) {
	for h := range 1 << 16 {
		got := halfToFloat(uint16(h))
		sign, exp, mant := h>>15, h>>10&0x1f, h&0x3ff
		var want float64
		switch {
		case exp == 0x1f && mant != 0:
			if w := uint32(sign)<<31 | 0x7fc00000 | uint32(mant)<<13; math.Float32bits(got) != w {
				t.Errorf("%#04x: got %#08x, want NaN %#08x", h, math.Float32bits(got), w)
			}
			continue
		case exp == 0x1f:
			want = math.Inf(1)
		case exp == 0:
			want = math.Ldexp(float64(mant), -24)
		default:
			want = math.Ldexp(float64(mant|0x400), int(exp)-25)
		}
		if sign != 0 {
			want = -want
		}
		if math.Float32bits(got) != math.Float32bits(float32(want)) {
			t.Errorf("%#04x: got %g (%#08x), want %g", h, got, math.Float32bits(got), want)
		}
	}
}

// TestIQNoAlloc: the dequantisers run inside GEMM panel packing.
func TestIQNoAlloc(t *testing.T) {
	for _, c := range iQuantTypes {
		tr, _ := Lookup(c.typ)
		src, want := readDequantFixture(t, c.typ)
		dst := make([]float32, len(want))
		if n := testing.AllocsPerRun(20, func() { tr.Dequantize(dst, src) }); n != 0 {
			t.Errorf("%s: %v allocations per call", c.typ, n)
		}
	}
}

// BenchmarkDequantizeIQ reports each type's speed in values per second, on
// the fixture's real blocks repeated to 64Ki values (in cache, as in a
// panel packer).
func BenchmarkDequantizeIQ(b *testing.B) {
	for _, c := range iQuantTypes {
		b.Run(c.typ.String(), func(b *testing.B) {
			tr, _ := Lookup(c.typ)
			blocks, _ := readDequantFixture(b, c.typ)
			blocks = blocks[:c.realBlocks*tr.BlockBytes]
			const values = 1 << 16
			nb := values / tr.BlockSize
			src := make([]byte, 0, nb*tr.BlockBytes+len(blocks))
			for len(src) < nb*tr.BlockBytes {
				src = append(src, blocks...)
			}
			src = src[:nb*tr.BlockBytes]
			dst := make([]float32, values)
			b.SetBytes(int64(len(src)))
			b.ResetTimer()
			for b.Loop() {
				tr.Dequantize(dst, src)
			}
			b.ReportMetric(float64(values)*float64(b.N)/b.Elapsed().Seconds(), "values/s")
		})
	}
}
