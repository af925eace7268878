package ggml

import (
	"os"
	"testing"

	"github.com/hyquant/hyquant/kernels"
)

// Every type hyquant computes with is in kernels' one format registry,
// with the table's geometry; the rest are not.
func TestFormatsRegistered(t *testing.T) {
	want := []Type{F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S}
	for _, typ := range want {
		tr, _ := Lookup(typ)
		f, ok := kernels.LookupFormat(tr.Name)
		if !ok {
			t.Errorf("%s is not registered", tr.Name)
			continue
		}
		rb, err := f.RowBytes(4 * QK_K)
		if err != nil || f.BlockSize() != tr.BlockSize || rb != 4*QK_K/tr.BlockSize*tr.BlockBytes {
			t.Errorf("%s: block %d, row bytes %d (%v); table: %d values in %d bytes", tr.Name, f.BlockSize(), rb, err, tr.BlockSize, tr.BlockBytes)
		}
	}
	// Quantisation through the seam equals the type's own.
	f, _ := kernels.LookupFormat("q4_K")
	fq, ok := f.(kernels.FormatQuantizer)
	if !ok {
		t.Fatal("q4_K is not a FormatQuantizer")
	}
	src := make([]float32, 2*QK_K)
	for i := range src {
		src[i] = float32(i%17) - 8
	}
	a, b := make([]byte, 2*144), make([]byte, 2*144)
	if err := fq.Quantize(a, src, 2, QK_K, nil); err != nil {
		t.Fatal(err)
	}
	Q4_K.Quantize(b, src, 2, QK_K, nil)
	if string(a) != string(b) {
		t.Error("Quantize through the registry differs from the type's")
	}
	for _, typ := range []Type{Q8_1, Q8_K, IQ1_S, IQ1_M, TQ1_0, MXFP4, I8} {
		if _, ok := Format(typ); ok {
			t.Errorf("%s has no dequantisation but is a format", typ)
		}
	}
}

// A Linear over real Q4_K blocks equals the dequantised matrix times x,
// also through a row permutation.
func TestRowsLinear(t *testing.T) {
	data, err := os.ReadFile("testdata/q4_K.bin")
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := Lookup(Q4_K)
	rows := len(data) / tr.BlockBytes // one super-block a row
	cols := QK_K
	f, _ := Format(Q4_K)
	dec, err := f.Matrix(data, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	r := dec.(*Rows)
	perm := make([]int32, rows)
	for i := range perm {
		perm[i] = int32(rows - 1 - i)
	}
	if err := r.Permute(perm); err != nil {
		t.Fatal(err)
	}
	l, err := kernels.NewDecodedLinear(r, rows, cols, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := make([]float32, rows*cols)
	if err := Q4_K.Dequantize(w, data); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, cols)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	y := make([]float32, rows)
	l.Apply(y, x, 1)
	for i := 0; i < rows; i++ {
		var want float64
		for c := 0; c < cols; c++ {
			want += float64(w[(rows-1-i)*cols+c]) * float64(x[c])
		}
		if d := float64(y[i]) - want; d > 1e-3 || d < -1e-3 {
			t.Errorf("row %d: %g, want %g", i, y[i], want)
		}
	}
	if err := r.Permute([]int32{0, 0}); err == nil {
		t.Error("a non-permutation was accepted")
	}
	if _, err := NewRows(data[:len(data)-1], Q4_K, rows, cols); err == nil {
		t.Error("a short buffer was accepted")
	}
}
