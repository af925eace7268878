package quant

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

func group(n int) grid.Granularity { return grid.Granularity{Kind: grid.PerGroup, GroupSize: n} }

var (
	perChannel = grid.Granularity{Kind: grid.PerChannel}
	perTensor  = grid.Granularity{Kind: grid.PerTensor}
)

// rtnAssignment is an assignment of a rows×cols weight under an RTN spec.
func rtnAssignment(rows, cols, bits int, g grid.Granularity, sym bool, d safetensors.DType) Assignment {
	return Assignment{
		Param:  runtime.Param{Name: "t.weight", Shape: []int{rows, cols}, Matrix: true},
		Stored: safetensors.F32,
		Spec:   Spec{Method: "rtn", Bits: bits, Granularity: g, Symmetric: sym, ScaleDType: d},
		Rows:   rows, Cols: cols,
	}
}

func mustRTN(t *testing.T, w []float32, a Assignment) *kernels.QMatrix {
	t.Helper()
	q, err := RTN{}.Quantize(w, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	return q.Q
}

// Hand-computed cases: values are binary fractions so every quotient is
// exact and the ties (x.5) exercise round-half-to-even.
func TestRTNHandComputed(t *testing.T) {
	cases := []struct {
		name   string
		rows   int
		w      []float32
		bits   int
		g      grid.Granularity
		sym    bool
		codes  []uint8
		scales []float32
		zeros  []uint8
		deq    []float32
	}{
		{
			// absmax 3.5, qmax 7: scale 0.5; w/scale = 3.5, -7, 0.5, 1.5 -> 4, -7, 0, 2; +8.
			name: "sym 4-bit channel", rows: 1, w: []float32{1.75, -3.5, 0.25, 0.75}, bits: 4, g: perChannel, sym: true,
			codes: []uint8{12, 1, 8, 10}, scales: []float32{0.5}, deq: []float32{2, -3.5, 0, 1},
		},
		{
			// qmax 3, scale 1: 3, -1.5 -> -2, 0.75 -> 1, 2.25 -> 2; +4.
			name: "sym 3-bit channel", rows: 1, w: []float32{3, -1.5, 0.75, 2.25}, bits: 3, g: perChannel, sym: true,
			codes: []uint8{7, 2, 5, 6}, scales: []float32{1}, deq: []float32{3, -2, 1, 2},
		},
		{
			// One scale for both rows: absmax 127 -> scale 1; -63.5 -> -64; +128.
			name: "sym 8-bit tensor", rows: 2, w: []float32{127, -63.5, 0.5, 1.5}, bits: 8, g: perTensor, sym: true,
			codes: []uint8{255, 64, 128, 130}, scales: []float32{1}, deq: []float32{127, -64, 0, 2},
		},
		{
			// Group 0 is all zero: scale 1, codes at the zero. Group 1: absmax
			// 3.5 -> scale 0.5: 7 and -3.5 -> -4.
			name: "sym 4-bit group:2 with an all-zero group", rows: 1, w: []float32{0, 0, 3.5, -1.75}, bits: 4, g: group(2), sym: true,
			codes: []uint8{8, 8, 15, 4}, scales: []float32{1, 0.5}, deq: []float32{0, 0, 3.5, -2},
		},
		{
			// xmin -2, xmax 5.5: scale 7.5/15 = 0.5, zero round(4) = 4;
			// codes -4+4, round(0.5)=0 +4, round(2.6)=3 +4, 11+4.
			name: "asym 4-bit group:4", rows: 1, w: []float32{-2, 0.25, 1.3, 5.5}, bits: 4, g: group(4), sym: false,
			codes: []uint8{0, 4, 7, 15}, scales: []float32{0.5}, zeros: []uint8{4}, deq: []float32{-2, 0, 1.5, 5.5},
		},
		{
			// Row 0: xmin 0 (all positive), xmax 7 -> scale 1, zero 0.
			// Row 1: xmin -3.5, xmax 0 -> scale 0.5, zero 7; -3.5 -> 0, -1.25 -> -2 (tie to even)+7 = 5.
			name: "asym 3-bit channel", rows: 2, w: []float32{7, 2.5, -3.5, -1.25}, bits: 3, g: perChannel, sym: false,
			codes: []uint8{7, 2, 0, 5}, scales: []float32{1, 0.5}, zeros: []uint8{0, 7}, deq: []float32{7, 2, -3.5, -1},
		},
		{
			// xmin -1, xmax 254 -> scale 1, zero 1; 254 -> 255, 0.5 -> 0 + 1.
			name: "asym 8-bit tensor", rows: 1, w: []float32{-1, 254, 0.5, 3}, bits: 8, g: perTensor, sym: false,
			codes: []uint8{0, 255, 1, 4}, scales: []float32{1}, zeros: []uint8{1}, deq: []float32{-1, 254, 0, 3},
		},
		{
			// All zero: [-1, 1] -> scale float32(2/15) = 0.13333334, zero
			// round(1/0.13333334 = 7.4999996) = 7; codes at the zero.
			name: "asym 4-bit all-zero", rows: 1, w: []float32{0, 0}, bits: 4, g: perChannel, sym: false,
			codes: []uint8{7, 7}, scales: []float32{float32(2) / 15}, zeros: []uint8{7}, deq: []float32{0, 0},
		},
	}
	for _, c := range cases {
		cols := len(c.w) / c.rows
		q := mustRTN(t, c.w, rtnAssignment(c.rows, cols, c.bits, c.g, c.sym, safetensors.F32))
		codes := kernels.UnpackCodes(q.Codes, q.Rows, q.Cols, q.Bits)
		if !slices.Equal(codes, c.codes) || !slices.Equal(q.Scales, c.scales) || !slices.Equal(q.Zeros, c.zeros) {
			t.Errorf("%s: codes %v scales %v zeros %v, want %v %v %v", c.name, codes, q.Scales, q.Zeros, c.codes, c.scales, c.zeros)
		}
		if deq := q.Dequantize(); !slices.Equal(deq, c.deq) {
			t.Errorf("%s: dequantised %v, want %v", c.name, deq, c.deq)
		}
	}
}

// The scale is rounded to the storage dtype before coding, so the
// dequantised maximum is 127·fp16(1/127), not 1.
func TestRTNScaleRoundedToDType(t *testing.T) {
	w := []float32{1, -0.25}
	raw := float32(1) / 127
	for _, d := range []safetensors.DType{safetensors.F16, safetensors.BF16} {
		q := mustRTN(t, w, rtnAssignment(1, 2, 8, perChannel, true, d))
		want := safetensors.RoundTo(raw, d)
		if q.Scales[0] != want || want == raw {
			t.Fatalf("%s: scale %v, want %v (raw %v)", d, q.Scales[0], want, raw)
		}
		deq := q.Dequantize()
		if deq[0] != 127*want || deq[0] == 1 {
			t.Errorf("%s: dequantised max %v, want 127·%v = %v", d, deq[0], want, 127*want)
		}
		// -0.25/scale: code from the rounded scale.
		if wantQ := float32(math.RoundToEven(-0.25 / float64(want))); deq[1] != wantQ*want {
			t.Errorf("%s: dequantised %v, want %v", d, deq[1], wantQ*want)
		}
	}
	// fp32: no rounding beyond float32.
	q := mustRTN(t, w, rtnAssignment(1, 2, 8, perChannel, true, safetensors.F32))
	if q.Scales[0] != raw {
		t.Errorf("fp32 scale %v, want %v", q.Scales[0], raw)
	}
}

// Scales that fp16 cannot hold are clamped to its smallest normal and
// largest finite values instead of becoming 0 or Inf.
func TestRTNScaleClampedToFP16Range(t *testing.T) {
	q := mustRTN(t, []float32{1e-6, -5e-7}, rtnAssignment(1, 2, 4, perChannel, true, safetensors.F16))
	if q.Scales[0] != 0x1p-14 {
		t.Errorf("tiny group: scale %v, want the fp16 smallest normal %v", q.Scales[0], float32(0x1p-14))
	}
	for i, v := range q.Dequantize() {
		if math.Abs(float64(v)-[]float64{1e-6, -5e-7}[i]) > 0x1p-15 {
			t.Errorf("tiny group: dequantised %v", v)
		}
	}
	q = mustRTN(t, []float32{1e9, -3}, rtnAssignment(1, 2, 8, perChannel, false, safetensors.F16))
	if q.Scales[0] != 65504 {
		t.Errorf("huge group: scale %v, want 65504", q.Scales[0])
	}
	if err := q.Validate(); err != nil {
		t.Error(err)
	}
}

// On random weights at every bit width, symmetry and granularity: each
// dequantised value is scale·integer with the integer inside the grid, and
// lies within scale/2 of its weight (fp32 scales, so no scale rounding
// widens the bound).
func TestRTNOnGridWithinHalfStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	rows, cols := 6, 64
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * math.Exp(rng.NormFloat64()))
	}
	w[5] = 0
	for bits := 2; bits <= 8; bits++ {
		for _, sym := range []bool{true, false} {
			for _, g := range []grid.Granularity{perTensor, perChannel, group(16), group(64)} {
				q := mustRTN(t, w, rtnAssignment(rows, cols, bits, g, sym, safetensors.F32))
				deq := q.Dequantize()
				codes := kernels.UnpackCodes(q.Codes, rows, cols, bits)
				gr := grid.Grid{Rows: rows, Cols: cols, Granularity: g}
				for i, v := range deq {
					k := gr.Index(i/cols, i%cols)
					s := float64(q.Scales[k])
					zero := 1 << (bits - 1)
					if !sym {
						zero = int(q.Zeros[k])
					}
					if sym && codes[i] == 0 {
						t.Fatalf("bits %d sym %s: code 0 is outside the symmetric grid", bits, g)
					}
					if int(codes[i]) >= 1<<bits || v != q.Scales[k]*float32(int(codes[i])-zero) {
						t.Fatalf("bits %d sym %v %s: %v is not code %d of the grid of scale %v zero %d", bits, sym, g, v, codes[i], s, zero)
					}
					// The 1e-4 allows for the float32 rounding of the scale
					// (2^-24 relative, times up to 255 steps).
					if e := math.Abs(float64(v) - float64(w[i])); e > s*(0.5+1e-4) {
						t.Fatalf("bits %d sym %v %s: weight %v dequantised to %v, error %v > scale/2 = %v", bits, sym, g, w[i], v, e, s/2)
					}
				}
			}
		}
	}
}

func TestChannel8(t *testing.T) {
	w := []float32{1.75, -3.5, 0.25, 0.75, 127, 1, -2, 0.5}
	a := rtnAssignment(2, 4, 8, perChannel, true, safetensors.F16)
	a.Spec.Method = "channel8"
	q, err := Channel8{}.Quantize(w, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Row 1: absmax 127 -> scale 1 exactly; row 0 like RTN.
	want := mustRTN(t, w, rtnAssignment(2, 4, 8, perChannel, true, safetensors.F16))
	if !slices.Equal(q.Q.Codes, want.Codes) || !slices.Equal(q.Q.Scales, want.Scales) || q.Q.Zeros != nil {
		t.Errorf("channel8 %+v differs from rtn w8 channel sym %+v", q.Q, want)
	}
	if q.Q.Scales[1] != 1 || q.Q.GroupSize != 4 || q.Q.Bits != 8 {
		t.Errorf("channel8: %+v", q.Q)
	}
}

func TestQuantizeRejectsBadWeights(t *testing.T) {
	a := rtnAssignment(2, 2, 4, perChannel, true, safetensors.F16)
	if _, err := (RTN{}).Quantize([]float32{1, 2, 3}, a, nil); err == nil {
		t.Error("rtn accepted 3 weights for a 2×2 matrix")
	}
	if _, err := (RTN{}).Quantize([]float32{1, float32(math.NaN()), 3, 4}, a, nil); err == nil {
		t.Error("rtn accepted a NaN weight")
	}
}

func TestQuantEmbeddingRowMatchesDequantize(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rows, cols := 5, 32
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(rng.NormFloat64())
	}
	for _, sym := range []bool{true, false} {
		for _, g := range []grid.Granularity{perTensor, perChannel, group(8)} {
			q := mustRTN(t, w, rtnAssignment(rows, cols, 3, g, sym, safetensors.F16))
			e, err := NewQuantEmbedding(q)
			if err != nil {
				t.Fatal(err)
			}
			deq := q.Dequantize()
			row := make([]float32, cols)
			for id := 0; id < rows; id++ {
				e.Row(row, id)
				if !slices.Equal(row, deq[id*cols:(id+1)*cols]) {
					t.Fatalf("sym %v %s: row %d = %v, want %v", sym, g, id, row, deq[id*cols:(id+1)*cols])
				}
			}
		}
	}
}
