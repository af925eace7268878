package ggml

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// Tests of the Rounders (rounder.go; each type's in its *_quant.go):
// fitting a block and rounding its own values reproduces Quantize bit for
// bit; rounding changed values gives codes whose dequantisation is what
// Round returned, touching only those values' code bits.

var rounderTypes = []Type{Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS}

// rounderCodeBits is how many bits of a block each value's code takes.
var rounderCodeBits = map[Type]int{Q8_0: 8, Q4_0: 4, Q4_1: 4, Q5_0: 5, Q5_1: 5, IQ4_NL: 4, Q2_K: 2, Q3_K: 3, Q4_K: 4, Q5_K: 5, Q6_K: 6, IQ4_XS: 4}

// rounderRow is one test row and importance weights for it (one per value).
type rounderRow struct {
	name string
	x, w []float32
}

// rounderSyntheticRows are rows of 1024 values meant to reach the corners:
// outliers, zero blocks and sub-blocks, -0, constant blocks, one-sided
// blocks, ties, and block scales sweeping through the binary16 subnormals.
func rounderSyntheticRows() []rounderRow {
	const n = 1024
	rng := rand.New(rand.NewPCG(7, 8))
	gauss := func(s float64) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * s)
		}
		return x
	}
	fill := func(x []float32, v float32) {
		for i := range x {
			x[i] = v
		}
	}
	outliers := gauss(0.02)
	for i := 0; i < n; i += 1 + rng.IntN(150) {
		outliers[i] *= float32(10 + rng.IntN(30))
	}
	zeros := gauss(0.02)
	fill(zeros[0:32], 0)
	fill(zeros[64:96], float32(math.Copysign(0, -1)))
	fill(zeros[304:320], 0)
	fill(zeros[320:352], 0)
	fill(zeros[512:768], 0)
	constant := gauss(0.02)
	fill(constant[0:256], 0.5)
	fill(constant[256:288], -0.25)
	fill(constant[288:320], 0.125)
	fill(constant[512:768], 1e-3)
	for k := 0; k < 8; k++ {
		fill(constant[768+32*k:800+32*k], float32(k-4)*0.01)
	}
	sweep := gauss(1)
	for i := range sweep {
		sweep[i] *= float32(math.Pow(10, -10+0.3*float64(i/32)))
	}
	oneSided := gauss(0.05)
	for i, v := range oneSided {
		oneSided[i] = float32(math.Abs(float64(v)))
		if i/32%2 == 1 {
			oneSided[i] = -oneSided[i]
		}
		if i%64 == 17 {
			oneSided[i] *= 20
		}
	}
	ties := make([]float32, n)
	for i := range ties {
		ties[i] = float32(rng.IntN(33)-16) * 0.5
	}
	rows := []rounderRow{
		{"gaussian+outliers", outliers, nil},
		{"zero blocks", zeros, nil},
		{"constant blocks", constant, nil},
		{"binary16-subnormal sweep", sweep, nil},
		{"tiny", gauss(3e-6), nil},
		{"one-sided, spikes", oneSided, nil},
		{"halves", ties, nil},
	}
	for i := range rows {
		w := make([]float32, n)
		for j := range w {
			w[j] = float32(rng.ExpFloat64()) + 1e-3
		}
		rows[i].w = w
	}
	return rows
}

// rounderFixtureRows are the rows of the quantiser fixtures with the
// importance weights they were quantised with.
func rounderFixtureRows(tb testing.TB) []rounderRow {
	tb.Helper()
	var rows []rounderRow
	x, im := legacyFixtureInput(tb)
	for _, ft := range legacyFixtureTensors {
		for r := 0; r < ft.rows; r++ {
			rows = append(rows, rounderRow{fmt.Sprintf("legacy %s row %d", ft.name, r), x[r*ft.cols : (r+1)*ft.cols], im[:ft.cols]})
		}
		x, im = x[ft.cols*ft.rows:], im[ft.cols:]
	}
	x = readF32File(tb, filepath.Join("testdata", "quant", "edge.in.f32"))
	im = readF32File(tb, filepath.Join("testdata", "quant", "edge.imatrix.f32"))
	for _, g := range legacyEdgeGroups {
		for r := 0; r < g.rows; r++ {
			rows = append(rows, rounderRow{fmt.Sprintf("legacy edge %d×%d row %d", g.rows, g.cols, r), x[r*g.cols : (r+1)*g.cols], im[:g.cols]})
		}
		x, im = x[g.cols*g.rows:], im[g.cols:]
	}
	m, fs := kLoadFixtures(tb)
	for _, f := range fs {
		for r := 0; r < f.rows; r++ {
			rows = append(rows, rounderRow{fmt.Sprintf("quantk %s row %d", f.name, r), f.x[r*f.cols : (r+1)*f.cols], f.w})
		}
	}
	x = kReadF32(tb, filepath.Join(kFixtureDir, "edge.f32"))
	w := kReadF32(tb, filepath.Join(kFixtureDir, "edge-weights.f32"))
	for r, name := range m.EdgeRows {
		rows = append(rows, rounderRow{"quantk edge " + name, x[r*QK_K : (r+1)*QK_K], w[r*QK_K : (r+1)*QK_K]})
	}
	return rows
}

// rounderRowsFor is every test row that is a whole number of tr's blocks.
func rounderRowsFor(tb testing.TB, tr *Traits) []rounderRow {
	var rows []rounderRow
	for _, r := range append(rounderSyntheticRows(), rounderFixtureRows(tb)...) {
		if len(r.x)%tr.BlockSize == 0 {
			rows = append(rows, r)
		}
	}
	return rows
}

// rounderModes are the two ways each row is quantised: plain, and with
// its importance weights.
var rounderModes = []string{"plain", "imatrix"}

func (r rounderRow) weights(mode string) []float32 {
	if mode == "imatrix" {
		return r.w
	}
	return nil
}

// rounderBlock is block b of a row's values, weights (nil stays nil) and
// bytes.
func rounderBlock(tr *Traits, b int, x, w []float32, q []byte) ([]float32, []float32, []byte) {
	n := tr.BlockSize
	if w != nil {
		w = w[b*n : (b+1)*n]
	}
	return x[b*n : (b+1)*n], w, q[b*tr.BlockBytes : (b+1)*tr.BlockBytes]
}

func rounderQuantize(tr *Traits, x, w []float32) []byte {
	q := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
	tr.Quantize(q, x, w)
	return q
}

func rounderDequantize(tr *Traits, q []byte) []float32 {
	y := make([]float32, len(q)/tr.BlockBytes*tr.BlockSize)
	tr.Dequantize(y, q)
	return y
}

// rounderSameValues reports the first index where a and b differ in their
// bits (-1 for none).
func rounderSameValues(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}

func newTestRounder(tb testing.TB, typ Type, x, w []float32) Rounder {
	tb.Helper()
	r, err := typ.NewRounder(x, w)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// rounderFitEach fits the blocks of a row in order with one Rounder, into
// bytes that start out zero, handing each fitted block (its index, values
// and bytes) to each; it returns the row's bytes.
func rounderFitEach(tb testing.TB, tr *Traits, x, w []float32, each func(r Rounder, b int, xb []float32, qb []byte)) []byte {
	tb.Helper()
	r := newTestRounder(tb, tr.Type, x, w)
	q := make([]byte, len(x)/tr.BlockSize*tr.BlockBytes)
	for b := 0; b < len(x)/tr.BlockSize; b++ {
		xb, wb, qb := rounderBlock(tr, b, x, w, q)
		r.Fit(qb, b, xb, wb)
		each(r, b, xb, qb)
	}
	return q
}

// TestRounderRegistered: exactly the types with a quantiser have a
// Rounder, and NewRounder checks what it is given.
func TestRounderRegistered(t *testing.T) {
	want := map[Type]bool{}
	for _, typ := range rounderTypes {
		want[typ] = true
	}
	for _, typ := range Types() {
		tr, _ := Lookup(typ)
		if (tr.Quantize != nil) != want[typ] || (tr.NewRounder != nil) != want[typ] {
			t.Errorf("%s: quantiser %v, rounder %v, want both %v", typ, tr.Quantize != nil, tr.NewRounder != nil, want[typ])
		}
	}
	if _, err := IQ2_XXS.NewRounder(make([]float32, QK_K), nil); err == nil {
		t.Error("IQ2_XXS: NewRounder without a quantiser gave no error")
	}
	if _, err := Q4_K.NewRounder(make([]float32, 32), nil); err == nil {
		t.Error("Q4_K: a row of 32 gave no error")
	}
	if _, err := Q4_0.NewRounder(make([]float32, 64), make([]float32, 32)); err == nil {
		t.Error("Q4_0: 32 weights for a row of 64 gave no error")
	}
}

// TestRounderReproducesQuantize is the property GPTQ with an identity
// Hessian relies on: fitting each block and rounding its own values in
// order writes Quantize's bytes bit for bit, and every value Round returns
// is Dequantize's for that element. Run three ways: plainly; with every
// value first rounded as some other value (so that Round, not Fit, must
// put each code in place); and with a new Rounder for each block (so that
// neither a Rounder nor Quantize may carry anything from block to block).
func TestRounderReproducesQuantize(t *testing.T) {
	for _, typ := range rounderTypes {
		tr, _ := Lookup(typ)
		for _, row := range rounderRowsFor(t, tr) {
			for _, mode := range rounderModes {
				w := row.weights(mode)
				want := rounderQuantize(tr, row.x, w)
				for _, how := range []string{"in order", "scrambled", "fresh"} {
					got, vals := rounderRoundOwnValues(t, tr, row.x, w, how)
					where := fmt.Sprintf("%s %s, %s (%s)", typ, mode, row.name, how)
					if !bytes.Equal(got, want) {
						t.Errorf("%s: %s", where, rounderFirstBlockDiff(tr, got, want))
						continue
					}
					if i := rounderSameValues(vals, rounderDequantize(tr, got)); i >= 0 {
						t.Errorf("%s: value %d: Round returned %g, Dequantize gives %g", where, i, vals[i], rounderDequantize(tr, got)[i])
					}
				}
			}
		}
	}
}

// rounderRoundOwnValues fits every block of a row and rounds its values
// in order, into a dst that starts out as garbage; "scrambled" first
// rounds each value as another value of its block, negated; "fresh" fits
// each block with a Rounder of its own.
func rounderRoundOwnValues(tb testing.TB, tr *Traits, x, w []float32, how string) ([]byte, []float32) {
	r := newTestRounder(tb, tr.Type, x, w)
	q := bytes.Repeat([]byte{0xa5}, len(x)/tr.BlockSize*tr.BlockBytes)
	vals := make([]float32, len(x))
	for b := 0; b < len(x)/tr.BlockSize; b++ {
		xb, wb, qb := rounderBlock(tr, b, x, w, q)
		if how == "fresh" {
			r = newTestRounder(tb, tr.Type, x, w)
		}
		r.Fit(qb, b, xb, wb)
		for j, v := range xb {
			if how == "scrambled" {
				r.Round(qb, j, -3*xb[(7*j+5)%len(xb)])
			}
			vals[b*tr.BlockSize+j] = r.Round(qb, j, v)
		}
	}
	return q, vals
}

func rounderFirstBlockDiff(tr *Traits, got, want []byte) string {
	for i := 0; i < len(want); i += tr.BlockBytes {
		g, w := got[i:i+tr.BlockBytes], want[i:i+tr.BlockBytes]
		if !bytes.Equal(g, w) {
			return fmt.Sprintf("block %d differs from Quantize's:\n got  % x\n want % x", i/tr.BlockBytes, g, w)
		}
	}
	return "lengths differ"
}

// rounderCodeOwners finds which value each bit of a block is the code of,
// from the dequantiser alone: flipping a bit of a well-conditioned block
// (Gaussian values, no zero scales) changes the dequantisation of exactly
// one value for a code bit, of several (or none) for the scales and mins.
// owner[bit] (bit 8·byte + k) is that value, -1 for the other bits; every
// value must own rounderCodeBits bits.
func rounderCodeOwners(tb testing.TB, tr *Traits) []int {
	tb.Helper()
	rng := rand.New(rand.NewPCG(9, 10))
	x := make([]float32, tr.BlockSize)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 0.02)
	}
	q := rounderQuantize(tr, x, nil)
	base := rounderDequantize(tr, q)
	owner := make([]int, 8*len(q))
	owned := make([]int, tr.BlockSize)
	for bit := range owner {
		q[bit/8] ^= 1 << (bit % 8)
		y := rounderDequantize(tr, q)
		q[bit/8] ^= 1 << (bit % 8)
		owner[bit] = -1
		changed := 0
		for j := range y {
			if math.Float32bits(y[j]) != math.Float32bits(base[j]) {
				changed++
				owner[bit] = j
			}
		}
		if changed != 1 {
			owner[bit] = -1
		} else {
			owned[owner[bit]]++
		}
	}
	for j, n := range owned {
		if n != rounderCodeBits[tr.Type] {
			tb.Fatalf("%s: value %d owns %d bits of the block, want %d", tr.Type, j, n, rounderCodeBits[tr.Type])
		}
	}
	return owner
}

// rounderChangedBits lists the bits where a and b differ.
func rounderChangedBits(a, b []byte) []int {
	var bits []int
	for i := range a {
		for d := a[i] ^ b[i]; d != 0; d &= d - 1 {
			k := 0
			for d>>k&1 == 0 {
				k++
			}
			bits = append(bits, 8*i+k)
		}
	}
	return bits
}

// rounderBlockScale is a block's largest magnitude, or 1 for a zero block.
func rounderBlockScale(x []float32) float32 {
	var a float32
	for _, v := range x {
		a = max(a, float32(math.Abs(float64(v))))
	}
	if !(a > 0) || math.IsInf(float64(a), 0) {
		return 1
	}
	return a
}

// TestRounderRoundsChangedValues: after a block is fitted, rounding every
// value changed (noise, and values a thousand and 10^12 times the block's
// range, which must saturate) leaves the bytes that are no value's code
// as Fit wrote them, and Dequantize of the result is what Round returned.
func TestRounderRoundsChangedValues(t *testing.T) {
	for _, typ := range rounderTypes {
		tr, _ := Lookup(typ)
		owner := rounderCodeOwners(t, tr)
		rng := rand.New(rand.NewPCG(11, 12))
		for _, row := range rounderRowsFor(t, tr) {
			for _, mode := range rounderModes {
				vals := make([]float32, len(row.x))
				q := rounderFitEach(t, tr, row.x, row.weights(mode), func(r Rounder, b int, xb []float32, qb []byte) {
					fitted := bytes.Clone(qb)
					s := rounderBlockScale(xb)
					for j, v := range xb {
						vals[b*tr.BlockSize+j] = r.Round(qb, j, rounderPerturb(rng, v, s))
					}
					for _, bit := range rounderChangedBits(fitted, qb) {
						if owner[bit] < 0 {
							t.Fatalf("%s %s, %s, block %d: rounding changed bit %d of byte %d, which is no value's code", typ, mode, row.name, b, bit%8, bit/8)
						}
					}
				})
				if i := rounderSameValues(vals, rounderDequantize(tr, q)); i >= 0 {
					t.Errorf("%s %s, %s: value %d: Round returned %g, Dequantize gives %g", typ, mode, row.name, i, vals[i], rounderDequantize(tr, q)[i])
				}
			}
		}
	}
}

// rounderPerturb changes v by noise of the block's scale s, or (one in
// five) replaces it by ±1e3·s or ±1e12·s.
func rounderPerturb(rng *rand.Rand, v, s float32) float32 {
	switch rng.IntN(10) {
	case 0:
		return 1e3 * s
	case 1:
		return -1e12 * s
	default:
		return v + float32(float32(rng.NormFloat64()*0.3)*s)
	}
}

// TestRounderTouchesOnlyItsCode: rounding value j to an extreme changes
// only bits of value j's code, and rounding it back to its own value
// restores the fitted bytes exactly.
func TestRounderTouchesOnlyItsCode(t *testing.T) {
	for _, typ := range rounderTypes {
		tr, _ := Lookup(typ)
		owner := rounderCodeOwners(t, tr)
		for _, row := range rounderRowsFor(t, tr) {
			for _, mode := range rounderModes {
				rounderFitEach(t, tr, row.x, row.weights(mode), func(r Rounder, b int, xb []float32, qb []byte) {
					fitted := bytes.Clone(qb)
					big := 1e3 * rounderBlockScale(xb)
					for j, v := range xb {
						for _, e := range []float32{big, -big} {
							r.Round(qb, j, e)
							for _, bit := range rounderChangedBits(fitted, qb) {
								if owner[bit] != j {
									t.Fatalf("%s %s, %s, block %d: rounding value %d to %g changed bit %d of byte %d (value %d's)", typ, mode, row.name, b, j, e, bit%8, bit/8, owner[bit])
								}
							}
						}
						r.Round(qb, j, v)
						if !bytes.Equal(qb, fitted) {
							t.Fatalf("%s %s, %s, block %d: value %d rounded back to %g: % x, fitted % x", typ, mode, row.name, b, j, v, qb, fitted)
						}
					}
				})
			}
		}
	}
}

// rounderCandidates is every value element j of block qb can dequantise
// to, from setting its code bits (owner) to each combination.
func rounderCandidates(tr *Traits, qb []byte, j int, owner []int) []float64 {
	var bits []int
	for bit, o := range owner {
		if o == j {
			bits = append(bits, bit)
		}
	}
	c := bytes.Clone(qb)
	y := make([]float32, tr.BlockSize)
	var vals []float64
	for code := 0; code < 1<<len(bits); code++ {
		for k, bit := range bits {
			c[bit/8] = c[bit/8]&^(1<<(bit%8)) | byte(code>>k&1)<<(bit%8)
		}
		tr.Dequantize(y, c)
		vals = append(vals, float64(y[j]))
	}
	return vals
}

// TestRounderPicksNearCodes: on a well-conditioned row, a changed value's
// code is the nearest of its codes for the K-quants (re-rounded against
// the stored scales), within one step of it for the others (which round
// against unrounded or searched scales); and far beyond the block's range
// it is the extreme code on that side.
func TestRounderPicksNearCodes(t *testing.T) {
	row := rounderSyntheticRows()[0]
	for _, typ := range rounderTypes {
		tr, _ := Lookup(typ)
		owner := rounderCodeOwners(t, tr)
		exact := tr.BlockSize == QK_K && typ != IQ4_XS
		rng := rand.New(rand.NewPCG(13, 14))
		for _, mode := range rounderModes {
			rounderFitEach(t, tr, row.x, row.weights(mode), func(r Rounder, b int, xb []float32, qb []byte) {
				s := rounderBlockScale(xb)
				for j := rng.IntN(7); j < len(xb); j += 7 {
					cands := rounderCandidates(tr, qb, j, owner)
					lo, hi, gap := rounderRange(cands)
					if got := float64(r.Round(qb, j, 1e3*s)); got != hi {
						t.Fatalf("%s %s, block %d, value %d: %g rounds to %g, the largest code gives %g", typ, mode, b, j, 1e3*s, got, hi)
					}
					if got := float64(r.Round(qb, j, -1e3*s)); got != lo {
						t.Fatalf("%s %s, block %d, value %d: %g rounds to %g, the smallest code gives %g", typ, mode, b, j, -1e3*s, got, lo)
					}
					x := float64(xb[j] + float32(float32(rng.NormFloat64()*0.3)*s))
					got := float64(r.Round(qb, j, float32(x)))
					best := math.Inf(1)
					for _, c := range cands {
						best = math.Min(best, math.Abs(c-x))
					}
					slack := gap
					if exact {
						slack = 1e-4 * gap
					}
					if math.Abs(got-x) > best+slack {
						t.Fatalf("%s %s, block %d, value %d: %g rounds to %g (error %g), the nearest code is %g off", typ, mode, b, j, x, got, math.Abs(got-x), best)
					}
				}
			})
		}
	}
}

// rounderRange is the smallest and largest candidate and the largest gap
// between neighbouring ones.
func rounderRange(c []float64) (lo, hi, gap float64) {
	s := append([]float64(nil), c...)
	for i := 1; i < len(s); i++ {
		for k := i; k > 0 && s[k] < s[k-1]; k-- {
			s[k], s[k-1] = s[k-1], s[k]
		}
	}
	for i := 1; i < len(s); i++ {
		gap = math.Max(gap, s[i]-s[i-1])
	}
	return s[0], s[len(s)-1], gap
}

// TestRounderLevels: the level helpers are llama.cpp's roundings inside
// the code range and saturate beyond it (NaN and ±Inf give what C gives).
func TestRounderLevels(t *testing.T) {
	for _, c := range []struct {
		f      float32
		lo, hi int32
		trunc  int32
		near   int32
	}{
		{8.5, 0, 15, 8, 8}, {15.99, 0, 15, 15, 15}, {16.5, 0, 15, 15, 15}, {300, 0, 15, 15, 15},
		{-0.5, 0, 15, 0, 0}, {-3, 0, 15, 0, 0}, {1e20, 0, 15, 15, 15}, {-1e20, 0, 15, 0, 0},
		{0x1p22, -4, 3, 3, 3}, {-0x1p22, -4, 3, -4, -4}, {2.5, -4, 3, 2, 2}, {-2.5, -4, 3, -2, -2},
		{127.5, -128, 127, 127, 127}, {-200, -128, 127, -128, -128},
		{float32(math.NaN()), -4, 3, 0, 0}, {float32(math.Inf(1)), 0, 15, 0, 0}, {float32(math.Inf(-1)), 0, 15, 0, 0},
	} {
		if got := legacyTruncLevel(c.f, c.lo, c.hi); got != c.trunc {
			t.Errorf("legacyTruncLevel(%g, %d, %d) = %d, want %d", c.f, c.lo, c.hi, got, c.trunc)
		}
		if got := legacyNearestLevel(c.f, c.lo, c.hi); got != c.near {
			t.Errorf("legacyNearestLevel(%g, %d, %d) = %d, want %d", c.f, c.lo, c.hi, got, c.near)
		}
		if got := kLevel(c.f, c.lo, c.hi); got != c.near {
			t.Errorf("kLevel(%g, %d, %d) = %d, want %d", c.f, c.lo, c.hi, got, c.near)
		}
	}
	// Inside the code range they are the C expressions exactly.
	rng := rand.New(rand.NewPCG(15, 16))
	for i := 0; i < 100000; i++ {
		f := float32(rng.NormFloat64() * 20)
		if f > -1 && f < 16 {
			if want := int32(int8(legacyTrunc(f))); f >= 0 && legacyTruncLevel(f, 0, 15) != min(15, want) {
				t.Fatalf("legacyTruncLevel(%g) = %d, C %d", f, legacyTruncLevel(f, 0, 15), min(15, want))
			}
		}
		if want := kClamp(kNearestInt(f), -32, 31); kLevel(f, -32, 31) != want {
			t.Fatalf("kLevel(%g) = %d, C %d", f, kLevel(f, -32, 31), want)
		}
	}
}
