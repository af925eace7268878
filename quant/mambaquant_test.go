package quant

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

func TestNeedsCalibration(t *testing.T) {
	cases := []struct {
		m    Method
		s    Spec
		want bool
	}{
		{RTN{}, Spec{}, false},
		{Channel8{}, Spec{}, false},
		{GPTQ{}, Spec{}, true},
		{MambaQuant{}, Spec{Rotation: "hadamard", Rounding: "rtn"}, false},
		{MambaQuant{}, Spec{Rotation: "hadamard", Rounding: "rtn", Smooth: 0.5}, true},
		{MambaQuant{}, Spec{Rotation: "klt", Rounding: "rtn"}, true},
		{MambaQuant{}, Spec{Rotation: "hadamard", Rounding: "gptq"}, true},
	}
	for _, c := range cases {
		if got := c.m.NeedsCalibration(c.s); got != c.want {
			t.Errorf("%s %+v: NeedsCalibration %v, want %v", c.m.Name(), c.s, got, c.want)
		}
	}
}

func mambaAssignment(t *testing.T, rows, cols, bits int, g grid.Granularity, s Spec) Assignment {
	t.Helper()
	s.Method, s.Bits, s.Granularity, s.Symmetric, s.ScaleDType = "mambaquant", bits, g, true, safetensors.F16
	if err := (MambaQuant{}).Prepare(&s); err != nil {
		t.Fatal(err)
	}
	return Assignment{Param: runtime.Param{Name: "x.in_proj.weight", Shape: []int{rows, cols}, Matrix: true}, Spec: s, Rows: rows, Cols: cols}
}

// effectiveWeight is the weight a rotated layer applies to x, deq(Q)·R·diag(1/s).
func effectiveWeight(q *Quantized) []float32 {
	deq := q.Q.Dequantize()
	rows, cols := q.Q.Rows, q.Q.Cols
	r := q.Transform.Rotation()
	out := make([]float32, rows*cols)
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			var v float64
			for k := 0; k < cols; k++ {
				v += float64(deq[i*cols+k]) * r[k*cols+j]
			}
			if q.Transform.Smooth != nil {
				v /= float64(q.Transform.Smooth[j])
			}
			out[i*cols+j] = float32(v)
		}
	}
	return out
}

// A Hadamard rotation spreads outlier input channels: per-channel 4-bit
// rounding of the rotated weight loses less than rounding the original.
// GPTQ rounding of the rotated weight lowers the output error further.
func TestMambaQuantLowersError(t *testing.T) {
	rng := rand.New(rand.NewPCG(60, 61))
	rows, cols := 32, 64
	w := randomMatrix(rng, rows, cols)
	for r := 0; r < rows; r++ {
		w[r*cols+5] *= 30 // outlier channels
		w[r*cols+40] *= -20
	}
	st := correlatedStats(rng, 300, cols)
	identity := make([]float64, cols*cols)
	for i := 0; i < cols; i++ {
		identity[i*cols+i] = 1
	}
	// Hadamard + RTN needs no statistics.
	had, err := MambaQuant{}.Quantize(w, mambaAssignment(t, rows, cols, 4, perChannel, Spec{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	rtn := mustRTN(t, w, rtnAssignment(rows, cols, 4, perChannel, true, safetensors.F16)).Dequantize()
	eh, er := outputError(w, effectiveWeight(had), rows, cols, identity), outputError(w, rtn, rows, cols, identity)
	t.Logf("||W − Ŵ||²: rtn %.4g, hadamard+rtn %.4g", er, eh)
	if eh >= 0.5*er {
		t.Errorf("hadamard+rtn weight error %g is not half of rtn's %g", eh, er)
	}
	for _, rot := range []string{RotationHadamard, RotationKLT} {
		a := mambaAssignment(t, rows, cols, 3, group(32), Spec{Rotation: rot, Smooth: 0.3})
		qr, err := MambaQuant{}.Quantize(w, a, st)
		if err != nil {
			t.Fatal(err)
		}
		a = mambaAssignment(t, rows, cols, 3, group(32), Spec{Rotation: rot, Smooth: 0.3, Rounding: RoundingGPTQ})
		qg, err := MambaQuant{}.Quantize(w, a, st)
		if err != nil {
			t.Fatal(err)
		}
		er, eg := outputError(w, effectiveWeight(qr), rows, cols, st.XtX), outputError(w, effectiveWeight(qg), rows, cols, st.XtX)
		t.Logf("%s smooth 0.3 w3 g32: ||WX − ŴX||² rtn rounding %.4g, gptq rounding %.4g", rot, er, eg)
		if eg >= er {
			t.Errorf("%s: gptq rounding error %g is not below rtn rounding's %g", rot, eg, er)
		}
	}
	if _, err := (MambaQuant{}).Quantize(w, mambaAssignment(t, rows, cols, 4, perChannel, Spec{Rotation: RotationKLT}), nil); err == nil || !strings.Contains(err.Error(), "calibration") {
		t.Errorf("klt without statistics: %v", err)
	}
}

// Replacing every linear layer of the mini model by RotatedLinear{T,
// Dense(W·diag(s)·Rᵀ)} leaves the logits unchanged up to float32 rounding,
// for the Hadamard and the KLT rotation, with smoothing.
func TestRotationInvarianceOnMini(t *testing.T) {
	stats, err := miniCalibration()
	if err != nil {
		t.Fatal(err)
	}
	for _, rot := range []string{RotationHadamard, RotationKLT} {
		l := openMini(t) // a fresh load: the replaced layers do not leak into other tests
		segs, err := calibrationSegments(l, 1, 64)
		if err != nil {
			t.Fatal(err)
		}
		want, err := l.Model.Logits(segs[0])
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		slots := l.Model.Linears()
		for _, s := range slots {
			d, ok := (*s.Ptr).(*kernels.Dense)
			if !ok {
				t.Fatalf("%s is a %T, want *kernels.Dense", s.Name, *s.Ptr)
			}
			rows, cols := d.Out(), d.In()
			tr, err := NewTransform(Spec{Rotation: rot, Smooth: 0.5, Seed: 1}, s.Name, d.Weights(), rows, cols, stats[s.Name])
			if err != nil {
				t.Fatal(err)
			}
			rl, err := NewRotatedLinear(tr, kernels.NewDense(tr.RotateWeights(d.Weights(), rows, cols), rows, cols, d.Bias()))
			if err != nil {
				t.Fatal(err)
			}
			*s.Ptr = rl
		}
		build := time.Since(start)
		got, err := l.Model.Logits(segs[0])
		if err != nil {
			t.Fatal(err)
		}
		var worst, scale float64
		for i := range got {
			worst = max(worst, math.Abs(float64(got[i]-want[i])))
			scale = max(scale, math.Abs(float64(want[i])))
		}
		t.Logf("%s + smooth 0.5, %d layers rotated (built in %v): max |Δlogit| = %.3g over 64 tokens (logits up to %.3g)",
			rot, len(slots), build.Round(time.Millisecond), worst, scale)
		if worst > 1e-4 {
			t.Errorf("%s: logits changed by %g > 1e-4", rot, worst)
		}
	}
}

func TestActQuant(t *testing.T) {
	cols := 4
	id := make([]float32, cols*cols)
	for i := 0; i < cols; i++ {
		id[i*cols+i] = 1
	}
	inner := kernels.NewDense(id, cols, cols, nil)
	x := []float32{
		1.27, 0.633, -0.001, 0.5, // absmax 1.27: scale 0.01 -> 127, 63, 0, 50
		0, 0, 0, 0, // all zero: stays zero
		-4, 1, 0.015625, 3, // scale 4/127 -> -127, 32, 0, 95
	}
	l, err := NewActQuant(inner, 8, "token", nil)
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, len(x))
	l.Apply(y, x, 3)
	s0, s2 := float32(1.27)/127, float32(4)/127
	want := []float32{127 * s0, 63 * s0, 0, 50 * s0, 0, 0, 0, 0, -127 * s2, 32 * s2, 0, 95 * s2}
	for i := range want {
		if math.Abs(float64(y[i]-want[i])) > 1e-6 {
			t.Fatalf("per token: y = %v, want %v", y, want)
		}
	}
	// Static per-tensor scale from calibration absmax 2.54: scale 0.02,
	// values beyond it clip to ±127 steps.
	st := NewStats("id", cols)
	copy(st.AbsMax, []float32{1, 2.54, 0.5, 0})
	l, err = NewActQuant(inner, 8, "tensor", st)
	if err != nil {
		t.Fatal(err)
	}
	l.Apply(y[:4], []float32{5, -0.031, 0.011, -1}, 1)
	s := float32(2.54) / 127
	for i, w := range []float32{127 * s, -2 * s, 1 * s, -50 * s} {
		if math.Abs(float64(y[i]-w)) > 1e-6 {
			t.Fatalf("per tensor: y = %v, want %v", y[:4], []float32{127 * s, -2 * s, 1 * s, -50 * s})
		}
	}
	if _, err := NewActQuant(inner, 8, "tensor", nil); err == nil || !strings.Contains(err.Error(), "needs calibration statistics") {
		t.Errorf("tensor mode without stats: %v", err)
	}
	if _, err := NewActQuant(inner, 8, "channel", nil); err == nil || !strings.Contains(err.Error(), `"channel" is not token`) {
		t.Errorf("unknown mode: %v", err)
	}
	if _, err := NewActQuant(inner, 1, "token", nil); err == nil {
		t.Error("1-bit activations accepted")
	}
	if got := StaticActScale(st, 8); got != s {
		t.Errorf("StaticActScale = %v, want %v", got, s)
	}
	if _, err := NewActQuantScale(inner, 8, "tensor", float32(math.Inf(1))); err == nil {
		t.Error("an infinite static scale accepted")
	}
}
