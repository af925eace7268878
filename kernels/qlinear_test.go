package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// bitWriterPack packs codes bit by bit, LSB first, each row padded to a
// byte: an implementation of the QMatrix layout independent of PackCodes.
func bitWriterPack(codes []uint8, rows, cols, bits int) []byte {
	rb := (cols*bits + 7) / 8
	out := make([]byte, rows*rb)
	for r := 0; r < rows; r++ {
		pos := 0
		for c := 0; c < cols; c++ {
			for b := 0; b < bits; b++ {
				if codes[r*cols+c]>>b&1 != 0 {
					out[r*rb+pos/8] |= 1 << (pos % 8)
				}
				pos++
			}
		}
	}
	return out
}

func randCodes(rng *rand.Rand, n, bits int) []uint8 {
	c := make([]uint8, n)
	for i := range c {
		c[i] = uint8(rng.IntN(1 << bits))
	}
	return c
}

func TestPackCodes(t *testing.T) {
	// Documented examples: 4 bits, first code in the low nibble; 3 bits
	// crossing byte boundaries.
	if got := PackCodes([]uint8{1, 2, 3}, 1, 3, 4); string(got) != "\x21\x03" {
		t.Errorf("4-bit PackCodes = %x, want 2103", got)
	}
	if got := PackCodes([]uint8{7, 0, 5}, 1, 3, 3); string(got) != "\x47\x01" {
		t.Errorf("3-bit PackCodes = %x, want 4701", got)
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for bits := 2; bits <= 8; bits++ {
		for _, s := range [][2]int{{1, 1}, {3, 5}, {4, 8}, {7, 33}, {2, 1544}} {
			rows, cols := s[0], s[1]
			codes := randCodes(rng, rows*cols, bits)
			packed := PackCodes(codes, rows, cols, bits)
			if want := bitWriterPack(codes, rows, cols, bits); string(packed) != string(want) {
				t.Fatalf("bits=%d %dx%d: PackCodes differs from the bit-by-bit layout", bits, rows, cols)
			}
			if len(packed) != rows*((cols*bits+7)/8) {
				t.Fatalf("bits=%d: %d bytes", bits, len(packed))
			}
			back := UnpackCodes(packed, rows, cols, bits)
			for i := range codes {
				if back[i] != codes[i] {
					t.Fatalf("bits=%d %dx%d: code %d unpacked as %d, packed %d", bits, rows, cols, i, back[i], codes[i])
				}
			}
		}
	}
}

func TestPackCodesPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"bits 1":       func() { PackCodes([]uint8{0}, 1, 1, 1) },
		"bits 9":       func() { PackCodes([]uint8{0}, 1, 1, 9) },
		"count":        func() { PackCodes([]uint8{0, 1}, 1, 3, 4) },
		"code too big": func() { PackCodes([]uint8{4}, 1, 1, 2) },
		"short packed": func() { UnpackCodes([]byte{0}, 1, 3, 4) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			f()
		}()
	}
}

// quantLayout is one way of sharing scales.
type quantLayout struct {
	name      string
	perTensor bool
	group     int // 0: one group per row (per-channel)
	asym      bool
}

var quantLayouts = []quantLayout{
	{"per-tensor-sym", true, 0, false},
	{"per-tensor-asym", true, 0, true},
	{"per-channel-sym", false, 0, false},
	{"per-channel-asym", false, 0, true},
	{"group-sym", false, 32, false},
	{"group-asym", false, 32, true},
	{"group16-asym", false, 16, true},
	{"odd-group-asym", false, 3, true},
}

// randQMatrix builds a valid random QMatrix; scales are rounded to bf16 as
// a checkpoint would store them.
func randQMatrix(rng *rand.Rand, rows, cols, bits int, l quantLayout) *QMatrix {
	q := &QMatrix{Rows: rows, Cols: cols, Bits: bits, PerTensor: l.perTensor, GroupSize: cols}
	if l.group > 0 && cols%l.group == 0 {
		q.GroupSize = l.group
	}
	codes := randCodes(rng, rows*cols, bits)
	q.Codes = PackCodes(codes, rows, cols, bits)
	n := 1
	if !q.PerTensor {
		n = rows * q.Groups()
	}
	q.Scales = make([]float32, n)
	for i := range q.Scales {
		q.Scales[i] = math.Float32frombits(uint32(toBF16(float32(0.01+rng.Float64()*0.1))) << 16)
	}
	if l.asym {
		q.Zeros = randCodes(rng, n, bits)
	}
	return q
}

// TestDequantize checks the reference dequantisation value by value.
func TestDequantize(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for bits := 2; bits <= 8; bits++ {
		for _, l := range quantLayouts {
			rows, cols := 5, 96
			q := randQMatrix(rng, rows, cols, bits, l)
			w := q.Dequantize()
			codes := bitWriterUnpack(q.Codes, rows, cols, bits)
			for r := 0; r < rows; r++ {
				for c := 0; c < cols; c++ {
					g := 0
					if !q.PerTensor {
						g = r*(cols/q.GroupSize) + c/q.GroupSize
					}
					zero := 1 << (bits - 1)
					if q.Zeros != nil {
						zero = int(q.Zeros[g])
					}
					want := float64(q.Scales[g]) * float64(int(codes[r*cols+c])-zero)
					if float64(w[r*cols+c]) != float64(float32(want)) {
						t.Fatalf("bits=%d %s: w[%d][%d] = %g, want %g", bits, l.name, r, c, w[r*cols+c], want)
					}
				}
			}
		}
	}
}

func bitWriterUnpack(packed []byte, rows, cols, bits int) []uint8 {
	rb := (cols*bits + 7) / 8
	codes := make([]uint8, rows*cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			for b := 0; b < bits; b++ {
				pos := c*bits + b
				if packed[r*rb+pos/8]>>(pos%8)&1 != 0 {
					codes[r*cols+c] |= 1 << b
				}
			}
		}
	}
	return codes
}

func TestQLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	shapes := [][2]int{{1, 1}, {3, 2}, {17, 6}, {65, 96}, {130, 288}, {70, 576}, {200, 64}, {40, 4128}}
	for bits := 2; bits <= 8; bits++ {
		for _, l := range quantLayouts {
			for _, s := range shapes {
				out, in := s[0], s[1]
				if bits != 4 && bits != 8 && out*in > 70*576 || out*in > 100000 && l.group != 0 && l.group != 32 {
					continue // keep the test short
				}
				q := randQMatrix(rng, out, in, bits, l)
				bias := randBias(rng, out, out%2 == 0)
				checkLinearAgainst(t, fmt.Sprintf("QLinear/bits=%d/%s/%dx%d", bits, l.name, out, in), func() Linear {
					ql, err := NewQLinear(q, bias)
					if err != nil {
						t.Fatal(err)
					}
					return ql
				}, out, in, q.Dequantize(), bias)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	good := func() *QMatrix {
		return &QMatrix{Rows: 2, Cols: 8, Bits: 4, GroupSize: 4,
			Codes: make([]byte, 8), Scales: []float32{1, 1, 1, 1}, Zeros: []uint8{8, 8, 8, 8}}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("valid matrix rejected: %v", err)
	}
	pt := good()
	pt.PerTensor, pt.GroupSize, pt.Scales, pt.Zeros = true, 0, []float32{2}, nil
	if err := pt.Validate(); err != nil {
		t.Fatalf("valid per-tensor matrix rejected: %v", err)
	}
	cases := []struct {
		name, msg string
		edit      func(q *QMatrix)
	}{
		{"zero rows", "sizes must be positive", func(q *QMatrix) { q.Rows = 0 }},
		{"negative cols", "sizes must be positive", func(q *QMatrix) { q.Cols = -8 }},
		{"bits 1", "Bits=1", func(q *QMatrix) { q.Bits = 1 }},
		{"bits 9", "Bits=9", func(q *QMatrix) { q.Bits = 9 }},
		{"group 3", "does not divide", func(q *QMatrix) { q.GroupSize = 3 }},
		{"group 0", "does not divide", func(q *QMatrix) { q.GroupSize = 0 }},
		{"short codes", "bytes of Codes", func(q *QMatrix) { q.Codes = q.Codes[:7] }},
		{"long codes", "bytes of Codes", func(q *QMatrix) { q.Codes = append(q.Codes, 0) }},
		{"codes for other bits", "bytes of Codes", func(q *QMatrix) { q.Bits = 3 }},
		{"few scales", "Scales", func(q *QMatrix) { q.Scales = q.Scales[:3] }},
		{"per-tensor scales", "Scales", func(q *QMatrix) { q.PerTensor = true }},
		{"NaN scale", "scale 2 is NaN", func(q *QMatrix) { q.Scales[2] = float32(math.NaN()) }},
		{"Inf scale", "scale 0 is +Inf", func(q *QMatrix) { q.Scales[0] = float32(math.Inf(1)) }},
		{"few zeros", "Zeros", func(q *QMatrix) { q.Zeros = q.Zeros[:1] }},
		{"zero too big", "does not fit in 4 bits", func(q *QMatrix) { q.Zeros[3] = 16 }},
	}
	for _, c := range cases {
		q := good()
		c.edit(q)
		err := q.Validate()
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: Validate() = %v, want an error mentioning %q", c.name, err, c.msg)
		}
		if _, err := NewQLinear(q, nil); err == nil {
			t.Errorf("%s: NewQLinear accepted the matrix", c.name)
		}
	}
	if err := (*QMatrix)(nil).Validate(); err == nil {
		t.Error("nil QMatrix validated")
	}
	if _, err := NewQLinear(good(), make([]float32, 3)); err == nil {
		t.Error("NewQLinear accepted a bias of the wrong length")
	}
}
