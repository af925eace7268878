package quant

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/runtime"
)

// Method ggml with imatrix takes llama.cpp's importance matrix from the
// calibration statistics: per column, the mean of x² over the tokens
// (llama-imatrix's in_sum2 / counts), and rounds with llama-quantize's
// importance-weighted search; without it, llama.cpp's reference rounding.
func TestGGMLImatrixFromCalibration(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	rows, cols := 3, 512
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(rng.NormFloat64()) * 0.02
	}
	st := NewStats("x", cols)
	xs := [][]float64{}
	for n := 0; n < 5; n++ {
		x := make([]float64, cols)
		for i := range x {
			x[i] = rng.NormFloat64() * float64(1+i%7)
		}
		xs = append(xs, x)
		for i := range x {
			for j := range x {
				st.XtX[i*cols+j] += x[i] * x[j]
			}
		}
		st.Rows++
	}
	want := make([]float32, cols)
	for i := range want {
		var s float64
		for _, x := range xs {
			s += x[i] * x[i]
		}
		want[i] = float32(s / 5)
	}
	got := st.MeanSquares()
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("mean x² of column %d: %g, want %g", i, got[i], want[i])
		}
	}
	a := Assignment{Param: runtime.Param{Name: "x", Shape: []int{rows, cols}, Matrix: true}, Rows: rows, Cols: cols,
		Spec: Spec{Method: GGMLMethod, GGMLType: ggml.Q4_K, Imatrix: true}}
	if !(GGML{}).NeedsCalibration(a.Spec) {
		t.Error("imatrix: true needs calibration")
	}
	q, err := GGML{}.Quantize(w, a, st)
	if err != nil {
		t.Fatal(err)
	}
	ref := make([]byte, len(q.Blocks))
	if err := ggml.Q4_K.Quantize(ref, w, rows, cols, want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(q.Blocks, ref) {
		t.Error("blocks differ from llama.cpp's rounding with the calibration importance matrix")
	}
	plain := make([]byte, len(ref))
	ggml.Q4_K.Quantize(plain, w, rows, cols, nil)
	if bytes.Equal(plain, ref) {
		t.Error("the importance matrix changed nothing: the test cannot tell the two apart")
	}
	if _, err := (GGML{}).Quantize(w, a, nil); err == nil {
		t.Error("imatrix without statistics was accepted")
	}
	for _, s := range []Spec{{Method: GGMLMethod, GGMLType: ggml.IQ2_XS}, {Method: GGMLMethod, GGMLType: ggml.Q8_1}} {
		if err := (GGML{}).Prepare(&s); err == nil {
			t.Errorf("type %s was accepted as a target", s.GGMLType)
		}
	}
}

// TestAssignmentNeedsCalibration: an importance matrix from a file replaces
// calibration for llama.cpp's rounding, not for GPTQ's (which needs H).
func TestAssignmentNeedsCalibration(t *testing.T) {
	imp := []float32{1, 2}
	for _, c := range []struct {
		spec       Spec
		importance []float32
		want       bool
	}{
		{Spec{Method: GGMLMethod, GGMLType: ggml.Q4_K}, nil, false},
		{Spec{Method: GGMLMethod, GGMLType: ggml.Q4_K, Imatrix: true}, nil, true},
		{Spec{Method: GGMLMethod, GGMLType: ggml.Q4_K, Imatrix: true}, imp, false},
		{Spec{Method: GGMLMethod, GGMLType: ggml.Q4_K, Imatrix: true, Rounding: RoundingGPTQ}, imp, true},
		{Spec{Method: GGMLMethod, GGMLType: ggml.Q4_K, Imatrix: true, ActBits: 8, ActMode: "tensor"}, imp, true},
	} {
		a := Assignment{Spec: c.spec, Importance: c.importance}
		if got := a.NeedsCalibration(); got != c.want {
			t.Errorf("%s (importance given %v): needs calibration %v, want %v", c.spec, c.importance != nil, got, c.want)
		}
	}
}
