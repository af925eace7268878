package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Every Linear is checked against the naive float64 product with its
// dequantised weights: max |y − ref| <= 1e-5·max |ref|. A float32 dot
// product of length k on random data errs by about √k·u relative to its
// terms, under 1e-5 for the k used here.
const linearTol = 1e-5

// naiveLinear is y = x·wᵀ + bias in float64.
func naiveLinear(x, w, bias []float32, n, out, in int) []float64 {
	y, _ := naiveNT(x, w, n, out, in)
	if bias != nil {
		for i := 0; i < n; i++ {
			for j := 0; j < out; j++ {
				y[i*out+j] += float64(bias[j])
			}
		}
	}
	return y
}

// checkLinearAgainst applies the Linear built by newLinear, at every ISA
// level (newLinear runs at that level), to random inputs of several batch
// sizes and compares with the float64 product with w (out×in) and bias.
func checkLinearAgainst(t *testing.T, name string, newLinear func() Linear, out, in int, w, bias []float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(out), uint64(in)))
	ns := []int{1, 2, 5, 7, 64, 200}
	if out*in > 50000 {
		ns = []int{1, 7, 130} // below and above smallMRows
	}
	for _, n := range ns {
		x := randFloats(rng, n*in)
		want := naiveLinear(x, w, bias, n, out, in)
		var maxRef float64
		for _, v := range want {
			maxRef = math.Max(maxRef, math.Abs(v))
		}
		for _, isa := range isas() {
			withISA(t, isa, func() {
				l := newLinear()
				if l.Out() != out || l.In() != in {
					t.Fatalf("%s: Linear is %d×%d, want %d×%d", name, l.Out(), l.In(), out, in)
				}
				y := randFloats(rng, n*out)
				l.Apply(y, x, n)
				var maxErr float64
				for i, v := range want {
					maxErr = math.Max(maxErr, math.Abs(float64(y[i])-v))
				}
				if !(maxErr <= linearTol*maxRef) {
					t.Errorf("%v/%s n=%d: max error %.3g exceeds %g × max |y| (%.3g)", isa, name, n, maxErr, linearTol, maxRef)
				}
			})
		}
	}
}

// linearShapes are out × in sizes: tiny, odd, not multiples of any panel
// width, several kc slices, and the mini model's mamba in_proj.
var linearShapes = [][2]int{{1, 1}, {3, 1}, {1, 7}, {17, 3}, {65, 33}, {130, 300}, {1544, 256}, {70, 600}, {33, 4100}}

func randBias(rng *rand.Rand, out int, use bool) []float32 {
	if !use {
		return nil
	}
	return randFloats(rng, out)
}

func TestDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, s := range linearShapes {
		for _, useBias := range []bool{false, true} {
			out, in := s[0], s[1]
			w, bias := randFloats(rng, out*in), randBias(rng, out, useBias)
			checkLinearAgainst(t, fmt.Sprintf("Dense/%dx%d/bias=%v", out, in, useBias), func() Linear {
				d := NewDense(w, out, in, bias)
				if &d.Weights()[0] != &w[0] {
					t.Error("Weights is not the slice given to NewDense")
				}
				return d
			}, out, in, w, bias)
		}
	}
}

// TestDenseKeepsKernel checks that a Dense packed for one kernel still
// computes correctly after the ISA level changes.
func TestDenseKeepsKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	w := randFloats(rng, 70*90)
	for _, built := range isas() {
		var d *Dense
		withISA(t, built, func() { d = NewDense(w, 70, 90, nil) })
		checkLinearAgainst(t, fmt.Sprintf("built at %v", built), func() Linear { return d }, 70, 90, w, nil)
	}
}

// toBF16 rounds f to the nearest bfloat16 (ties to even).
func toBF16(f float32) uint16 {
	b := math.Float32bits(f)
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// fp16Reference decodes an IEEE binary16 in float64, independently of
// fp16ToFloat32.
func fp16Reference(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	e, m := int(h>>10&0x1f), float64(h&0x3ff)
	switch e {
	case 0:
		return sign * math.Ldexp(m/1024, -14)
	case 31:
		if m == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * math.Ldexp(1+m/1024, e-15)
}

func TestHalfConversions(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got, want := fp16ToFloat32(h), fp16Reference(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) || math.Float32bits(got)>>13&0x3ff != uint32(h&0x3ff) ||
				math.Float32bits(got)>>31 != uint32(h>>15) {
				t.Fatalf("fp16 %#04x: got %#08x, want NaN with its sign and payload", h, math.Float32bits(got))
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != (h&0x8000 != 0) {
			t.Fatalf("fp16 %#04x: got %g, want %g", h, got, want)
		}
		if b := bf16ToFloat32(h); math.Float32bits(b) != uint32(h)<<16 {
			t.Fatalf("bf16 %#04x: got %#08x", h, math.Float32bits(b))
		}
	}
}

// halfWeights returns out×in random weights rounded to bf16 or fp16: the raw
// little-endian bytes and their exact float32 values. Some special values
// (±0, subnormals, the largest finite values) are mixed in.
func halfWeights(rng *rand.Rand, out, in int, fp16 bool) ([]byte, []float32) {
	raw := make([]byte, 2*out*in)
	w := make([]float32, out*in)
	specials := []uint16{0x0000, 0x8000, 0x0001, 0x83ff, 0x7bff, 0x3c00}
	for i := range w {
		var h uint16
		switch {
		case rng.IntN(50) == 0:
			h = specials[rng.IntN(len(specials))]
			if !fp16 {
				h = []uint16{0x0000, 0x8000, 0x0001, 0x807f, 0x3f80, 0x4120}[rng.IntN(6)]
			}
		case fp16:
			for {
				h = uint16(rng.Uint32())
				if h>>10&0x1f != 0x1f && math.Abs(fp16Reference(h)) < 4 {
					break
				}
			}
		default:
			h = toBF16(float32(rng.NormFloat64()))
		}
		binary.LittleEndian.PutUint16(raw[2*i:], h)
		if fp16 {
			w[i] = float32(fp16Reference(h))
		} else {
			w[i] = math.Float32frombits(uint32(h) << 16)
		}
	}
	return raw, w
}

func TestHalfDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, s := range append(linearShapes, [2]int{33, 1040}, [2]int{64, 272}) {
		out, in := s[0], s[1]
		bias := randBias(rng, out, out%2 == 1)
		raw, w := halfWeights(rng, out, in, false)
		checkLinearAgainst(t, fmt.Sprintf("BF16Dense/%dx%d", out, in),
			func() Linear { return NewBF16Dense(raw, out, in, bias) }, out, in, w, bias)
		raw16, w16 := halfWeights(rng, out, in, true)
		checkLinearAgainst(t, fmt.Sprintf("FP16Dense/%dx%d", out, in),
			func() Linear { return NewFP16Dense(raw16, out, in, bias) }, out, in, w16, bias)
	}
}

// TestHalfDenseUnaligned reads weights at an odd byte offset, as a tensor
// inside a memory-mapped file may be.
func TestHalfDenseUnaligned(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	out, in := 40, 96
	raw, w := halfWeights(rng, out, in, false)
	shifted := append([]byte{0}, raw...)[1:]
	checkLinearAgainst(t, "unaligned", func() Linear { return NewBF16Dense(shifted, out, in, nil) }, out, in, w, nil)
}

func TestLinearPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"NewDense short":     func() { NewDense(make([]float32, 5), 2, 3, nil) },
		"NewDense bias":      func() { NewDense(make([]float32, 6), 2, 3, make([]float32, 3)) },
		"NewBF16Dense short": func() { NewBF16Dense(make([]byte, 11), 2, 3, nil) },
		"NewFP16Dense zero":  func() { NewFP16Dense(nil, 0, 3, nil) },
		"Apply short y":      func() { NewDense(make([]float32, 6), 2, 3, nil).Apply(make([]float32, 3), make([]float32, 6), 2) },
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

// TestConcurrentApply runs one Linear from several goroutines at once (the
// model may apply layers in parallel): the packing buffers must not be
// shared between calls.
func TestConcurrentApply(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	out, in, n := 300, 260, 40
	raw, _ := halfWeights(rng, out, in, false)
	l := NewBF16Dense(raw, out, in, nil)
	x := randFloats(rng, n*in)
	want := make([]float32, n*out)
	l.Apply(want, x, n)
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			y := make([]float32, n*out)
			for rep := 0; rep < 20; rep++ {
				l.Apply(y, x, n)
				for i := range y {
					if y[i] != want[i] {
						errs <- fmt.Sprintf("element %d = %g, want %g", i, y[i], want[i])
						return
					}
				}
			}
			errs <- ""
		}()
	}
	for g := 0; g < 8; g++ {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}
