package quant

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// testTransform builds a mambaquant transform for a random rows×cols weight
// and correlated statistics.
func testTransform(t *testing.T, kind string, smooth float64, rows, cols int) (*Transform, []float32, *Stats) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(cols), 31))
	w := randomMatrix(rng, rows, cols)
	st := correlatedStats(rng, 3*cols, cols)
	tr, err := NewTransform(Spec{Rotation: kind, Smooth: smooth, Seed: 3}, "layer.weight", w, rows, cols, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Validate(cols); err != nil {
		t.Fatal(err)
	}
	return tr, w, st
}

// maxOrthogonalityError is max |R·Rᵀ − I|.
func maxOrthogonalityError(r []float64, n int) float64 {
	var worst float64
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for k := 0; k < n; k++ {
				s += r[i*n+k] * r[j*n+k]
			}
			if i == j {
				s--
			}
			worst = max(worst, math.Abs(s))
		}
	}
	return worst
}

func TestHadamardRotationOrthogonal(t *testing.T) {
	for _, cols := range []int{8, 24, 96, 256} {
		tr, _, _ := testTransform(t, RotationHadamard, 0, 4, cols)
		if tr.Block != kernels.HadamardBlockSize(cols) {
			t.Fatalf("cols %d: block %d", cols, tr.Block)
		}
		r := tr.Rotation()
		if e := maxOrthogonalityError(r, cols); e > 1e-5 {
			t.Errorf("cols %d: |R·Rᵀ − I| = %g", cols, e)
		}
		// Block-diagonal: nothing outside the diagonal blocks.
		for i := 0; i < cols; i++ {
			for j := 0; j < cols; j++ {
				if i/tr.Block != j/tr.Block && r[i*cols+j] != 0 {
					t.Fatalf("cols %d: R[%d][%d] = %v outside the %d-blocks", cols, i, j, r[i*cols+j], tr.Block)
				}
			}
		}
	}
	// Signs derive from the seed and the layer name.
	a, b := RandomSigns(0, "a.weight", 64), RandomSigns(0, "b.weight", 64)
	if slices.Equal(a, b) || !slices.Equal(a, RandomSigns(0, "a.weight", 64)) || slices.Equal(a, RandomSigns(1, "a.weight", 64)) {
		t.Error("signs do not depend on exactly the seed and the layer name")
	}
}

// The KLT rotation is orthogonal, and undoing its Hadamard part leaves Kᵀ,
// which diagonalises the (smoothed) input covariance.
func TestKLTRotationOrthogonalAndDecorrelating(t *testing.T) {
	for _, smooth := range []float64{0, 0.5} {
		cols := 48
		tr, _, st := testTransform(t, RotationKLT, smooth, 4, cols)
		r := widen(tr.Matrix)
		if e := maxOrthogonalityError(r, cols); e > 1e-5 {
			t.Errorf("smooth %v: |R·Rᵀ − I| = %g", smooth, e)
		}
		had := &Transform{Kind: RotationHadamard, Signs: tr.Signs, Block: tr.Block}
		hr := had.Rotation()
		// Kᵀ = (H_bd·diag(signs))ᵀ·R.
		kt := make([]float64, cols*cols)
		for i := 0; i < cols; i++ {
			for j := 0; j < cols; j++ {
				for k := 0; k < cols; k++ {
					kt[i*cols+j] += hr[k*cols+i] * r[k*cols+j]
				}
			}
		}
		cov := st.Covariance()
		if tr.Smooth != nil {
			for i := 0; i < cols; i++ {
				for j := 0; j < cols; j++ {
					cov[i*cols+j] /= float64(tr.Smooth[i]) * float64(tr.Smooth[j])
				}
			}
		}
		// D = Kᵀ·C·K must be diagonal, with decreasing diagonal.
		var off, diag float64
		prev := math.Inf(1)
		for i := 0; i < cols; i++ {
			for j := 0; j < cols; j++ {
				var s float64
				for a := 0; a < cols; a++ {
					for b := 0; b < cols; b++ {
						s += kt[i*cols+a] * cov[a*cols+b] * kt[j*cols+b]
					}
				}
				if i == j {
					diag = max(diag, s)
					if s > prev*(1+1e-6) {
						t.Errorf("smooth %v: eigenvalue %d = %g above the previous %g", smooth, i, s, prev)
					}
					prev = s
				} else {
					off = max(off, math.Abs(s))
				}
			}
		}
		if off > 1e-5*diag {
			t.Errorf("smooth %v: Kᵀ·C·K has off-diagonal %g (largest eigenvalue %g)", smooth, off, diag)
		}
	}
}

// Apply equals the explicit R·(x ⊘ s); RotateWeights is W·diag(s)·Rᵀ, so
// W'·T(x) = W·x; RotateGram is R·diag(1/s)·G·diag(1/s)·Rᵀ.
func TestTransformMatchesExplicitMatrix(t *testing.T) {
	for _, kind := range []string{RotationHadamard, RotationKLT} {
		for _, smooth := range []float64{0, 0.6} {
			rows, cols, n := 5, 40, 7
			tr, w, st := testTransform(t, kind, smooth, rows, cols)
			if (tr.Smooth != nil) != (smooth > 0) {
				t.Fatalf("%s smooth %v: Smooth = %v", kind, smooth, tr.Smooth)
			}
			r := tr.Rotation()
			s := make([]float64, cols)
			for i := range s {
				s[i] = 1
				if tr.Smooth != nil {
					s[i] = float64(tr.Smooth[i])
				}
			}
			rng := rand.New(rand.NewPCG(40, 41))
			x := randomMatrix(rng, n, cols)
			got := make([]float32, n*cols)
			tr.Apply(got, x, n, cols)
			for row := 0; row < n; row++ {
				for i := 0; i < cols; i++ {
					var want float64
					for j := 0; j < cols; j++ {
						want += r[i*cols+j] * float64(x[row*cols+j]) / s[j]
					}
					if d := math.Abs(float64(got[row*cols+i]) - want); d > 1e-5*(1+math.Abs(want)) {
						t.Fatalf("%s smooth %v: T(x)[%d][%d] = %v, want %v", kind, smooth, row, i, got[row*cols+i], want)
					}
				}
			}
			// W'·T(x) = W·x.
			wr := tr.RotateWeights(w, rows, cols)
			y, yr := make([]float32, n*rows), make([]float32, n*rows)
			kernels.MatMulNT(y, x, w, n, rows, cols)
			kernels.MatMulNT(yr, got, wr, n, rows, cols)
			for i := range y {
				if d := math.Abs(float64(y[i] - yr[i])); d > 1e-4*(1+math.Abs(float64(y[i]))) {
					t.Fatalf("%s smooth %v: W'·T(x) = %v, W·x = %v", kind, smooth, yr[i], y[i])
				}
			}
			// The Gram matrix.
			g := st.Hessian()
			want := make([]float64, cols*cols)
			for i := 0; i < cols; i++ {
				for j := 0; j < cols; j++ {
					var v float64
					for a := 0; a < cols; a++ {
						for b := 0; b < cols; b++ {
							v += r[i*cols+a] * g[a*cols+b] / (s[a] * s[b]) * r[j*cols+b]
						}
					}
					want[i*cols+j] = v
				}
			}
			tr.RotateGram(g, cols)
			for i, v := range g {
				if d := math.Abs(v - want[i]); d > 1e-9*(1+math.Abs(want[i])) {
					t.Fatalf("%s smooth %v: rotated Gram[%d] = %v, want %v", kind, smooth, i, v, want[i])
				}
			}
		}
	}
}

func TestTransformTensorsRoundTrip(t *testing.T) {
	for _, kind := range []string{RotationHadamard, RotationKLT} {
		for _, smooth := range []float64{0, 0.5} {
			cols := 24
			tr, _, _ := testTransform(t, kind, smooth, 3, cols)
			tensors := tr.Tensors("m.weight")
			files := map[string][]byte{}
			for _, at := range tensors {
				if int64(len(at.Data)) != at.Spec.Bytes() {
					t.Fatalf("%s: %d bytes for %v", at.Spec.Name, len(at.Data), at.Spec)
				}
				files[at.Spec.Name] = at.Data
			}
			get := func(name string) ([]byte, bool) { b, ok := files[name]; return b, ok }
			back, err := DecodeTransform(kind, "m.weight", cols, get)
			if err != nil {
				t.Fatal(err)
			}
			if back.Kind != tr.Kind || back.Block != tr.Block || !slices.Equal(back.Signs, tr.Signs) ||
				!slices.Equal(back.Smooth, tr.Smooth) || !slices.Equal(back.Matrix, tr.Matrix) {
				t.Fatalf("%s smooth %v: round trip changed the transform", kind, smooth)
			}
		}
	}
	// Errors name the missing or mis-sized tensor.
	tr, _, _ := testTransform(t, RotationKLT, 0.5, 3, 16)
	files := map[string][]byte{}
	for _, at := range tr.Tensors("m.weight") {
		files[at.Spec.Name] = at.Data
	}
	cases := []struct {
		kind, drop, resize string
		want               string
	}{
		{RotationKLT, "m.weight.rotation_signs", "", "missing tensor m.weight.rotation_signs"},
		{RotationKLT, "m.weight.rotation", "", "missing tensor m.weight.rotation (F32 [16, 16])"},
		{RotationKLT, "", "m.weight.rotation", "tensor m.weight.rotation has 1020 bytes, want 1024"},
		{RotationKLT, "", "m.weight.smooth", "tensor m.weight.smooth has 60 bytes, want 64"},
		{RotationHadamard, "", "m.weight.rotation_signs", "tensor m.weight.rotation_signs has 15 bytes, want 16"},
		{"givens", "", "", `rotation kind "givens" is not hadamard or klt`},
	}
	for _, c := range cases {
		get := func(name string) ([]byte, bool) {
			b, ok := files[name]
			if name == c.drop {
				return nil, false
			}
			if name == c.resize { // one element short
				cut := 4
				if strings.HasSuffix(name, RotationSignsSuffix) {
					cut = 1
				}
				b = b[:len(b)-cut]
			}
			return b, ok
		}
		_, err := DecodeTransform(c.kind, "m.weight", 16, get)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c, err, c.want)
		}
	}
	bad := slices.Clone(files["m.weight.rotation_signs"])
	bad[3] = 0
	_, err := DecodeTransform(RotationHadamard, "m.weight", 16, func(name string) ([]byte, bool) {
		if name == "m.weight.rotation_signs" {
			return bad, true
		}
		return nil, false
	})
	if err == nil || !strings.Contains(err.Error(), "want ±1") {
		t.Errorf("a zero sign: %v", err)
	}
}

// For every option combination, Aux lists exactly the tensors that the
// quantised result's Transform stores, and Layout includes them.
func TestMambaQuantAuxMatchesTensors(t *testing.T) {
	rng := rand.New(rand.NewPCG(50, 51))
	rows, cols := 8, 32
	w := randomMatrix(rng, rows, cols)
	st := correlatedStats(rng, 100, cols)
	for _, rot := range []string{RotationHadamard, RotationKLT} {
		for _, smooth := range []float64{0, 0.5} {
			for _, rounding := range []string{RoundingRTN, RoundingGPTQ} {
				a := Assignment{
					Param: runtime.Param{Name: "backbone.layers.0.mixer.in_proj.weight", Shape: []int{rows, cols}, Matrix: true},
					Spec:  Spec{Method: "mambaquant", Bits: 4, Granularity: group(16), Symmetric: true, ScaleDType: safetensors.F16, Rotation: rot, Smooth: smooth, Rounding: rounding},
					Rows:  rows, Cols: cols,
				}
				if err := (MambaQuant{}).Prepare(&a.Spec); err != nil {
					t.Fatal(err)
				}
				q, err := MambaQuant{}.Quantize(w, a, st)
				if err != nil {
					t.Fatal(err)
				}
				var got []safetensors.TensorSpec
				for _, at := range q.Transform.Tensors(a.Param.Name) {
					got = append(got, at.Spec)
				}
				want := MambaQuant{}.Aux(a)
				if !slices.EqualFunc(got, want, func(x, y safetensors.TensorSpec) bool {
					return x.Name == y.Name && x.DType == y.DType && slices.Equal(x.Shape, y.Shape)
				}) {
					t.Errorf("%s smooth %v %s: Tensors %v, Aux %v", rot, smooth, rounding, got, want)
				}
				layout := Layout(a)
				if !slices.ContainsFunc(layout, func(s safetensors.TensorSpec) bool { return s.Name == a.Param.Name+RotationSignsSuffix }) {
					t.Errorf("Layout %v lacks the rotation signs", layout)
				}
			}
		}
	}
}
