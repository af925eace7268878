package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestPackersMatchPortable packs B panels of every operand type with the
// assembly packers and with the portable loops (forced by SetISA) and
// requires identical bits: widening bf16/fp16 and dequantising are exact
// operations, so both paths must agree exactly. Panels cover whole and
// partial 16×16 tiles (w and kc not multiples of 16), offsets j0 and p0,
// and zero padding.
func TestPackersMatchPortable(t *testing.T) {
	if BestISA() < AVX512 {
		t.Skip("no assembly packers")
	}
	rng := rand.New(rand.NewPCG(51, 52))
	out, in := 150, 384 // groups of 3, 16 and 32 divide 384
	w := randFloats(rng, out*in)
	rawB, _ := halfWeights(rng, out, in, false)
	rawH, _ := halfWeights(rng, out, in, true)
	ops := map[string]panelPacker{
		"f32":  rawNT{b: w, ldb: in},
		"bf16": half16Operand{rawB, in, false},
		"fp16": half16Operand{rawH, in, true},
	}
	for _, bits := range []int{8, 4, 3} {
		for _, l := range quantLayouts {
			ops[fmt.Sprintf("q%d/%s", bits, l.name)] = qOperand{randQMatrix(rng, out, in, bits, l)}
		}
	}
	const nr = 64
	for name, op := range ops {
		for _, c := range [][4]int{{0, 64, 0, 256}, {64, 64, 32, 16}, {128, 22, 0, 300}, {0, 17, 16, 33}, {64, 48, 256, 44}, {16, 64, 64, 320}} {
			j0, wd, p0, kc := c[0], c[1], c[2], c[3]
			got := randFloats(rng, kc*nr)
			want := randFloats(rng, kc*nr)
			withISA(t, AVX512, func() { op.packPanel(got, nr, j0, wd, p0, kc) })
			withISA(t, Portable, func() { op.packPanel(want, nr, j0, wd, p0, kc) })
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s j0=%d w=%d p0=%d kc=%d: panel[%d] (p=%d, col %d) = %g, portable %g",
						name, j0, wd, p0, kc, i, i/nr, i%nr, got[i], want[i])
				}
			}
		}
	}
}

// TestAsmMatchesPortable forces the portable GEMM and compares every
// assembly level with it on the same operands; the two sum in different
// orders (and the assembly fuses multiply-adds), so they may differ by the
// sum of both error bounds, 2·γ(k)·Σ|a||b|.
func TestAsmMatchesPortable(t *testing.T) {
	rng := rand.New(rand.NewPCG(53, 54))
	for _, s := range [][3]int{{1, 1, 1}, {3, 17, 5}, {33, 17, 1544}, {64, 200, 300}, {2, 70, 5000}} {
		m, n, k := s[0], s[1], s[2]
		a, b := randFloats(rng, m*k), randFloats(rng, n*k)
		ref := make([]float32, m*n)
		withISA(t, Portable, func() { MatMulNT(ref, a, b, m, n, k) })
		_, abs := naiveNT(a, b, m, n, k)
		kk := float64(k + 2)
		gamma := kk * unitRoundoff / (1 - kk*unitRoundoff)
		for _, isa := range isas()[1:] {
			withISA(t, isa, func() {
				c := make([]float32, m*n)
				MatMulNT(c, a, b, m, n, k)
				for i := range c {
					if d := math.Abs(float64(c[i] - ref[i])); d > 2*gamma*abs[i] {
						t.Fatalf("%v %dx%dx%d: element %d = %g, portable %g", isa, m, n, k, i, c[i], ref[i])
					}
				}
			})
		}
	}
}
