package grid

import (
	"math"
	"testing"

	"github.com/hyquant/hyquant/runtime/safetensors"
)

// Codes come from the float32 quotient w/scale rounded half to even, as
// PyTorch computes round(w / scale) on float32 tensors: on weights whose
// float32 quotient is an exact half-way point, the float64 quotient (a hair
// off it) would round the other way. A weight at half the group's absmax
// over 7 at 4 bits is such a tie.
func TestCodeTiesInFloat32(t *testing.T) {
	sc := Scheme{Bits: 4, Symmetric: true, ScaleDType: safetensors.F32}
	flips := 0
	for i := 1; i < 20000; i++ {
		absmax := float32(i) * 0.000137
		p := sc.Params(-float64(absmax), float64(absmax))
		w := absmax / 2 // absmax/7 · 3.5: the tie between codes 3 and 4
		q32 := float32(w) / p.Scale
		want := uint8(int32(math.RoundToEven(float64(q32))) + p.Zero)
		if got := sc.Code(float64(w), p); got != want {
			t.Fatalf("absmax %g: code %d, float32 quotient %v rounds to %d", absmax, got, q32, want)
		}
		if q64 := math.RoundToEven(float64(w) / float64(p.Scale)); uint8(int32(q64)+p.Zero) != want {
			flips++
		}
	}
	if flips == 0 {
		t.Error("no weight where float32 and float64 quotients round differently: the test shows nothing")
	}
	t.Logf("%d of 19999 tie weights round differently with a float64 quotient", flips)
	// Asymmetric zero points come from the float32 quotient too.
	asym := Scheme{Bits: 4, ScaleDType: safetensors.F32}
	p := asym.Params(-0.75, 1.5)
	if want := int32(math.RoundToEven(float64(float32(0.75) / p.Scale))); p.Zero != want {
		t.Errorf("zero point %d, float32 quotient gives %d", p.Zero, want)
	}
}
