package cuda

import (
	"math"
	"math/rand/v2"
	"testing"
)

func openOrSkip(t *testing.T) *Device {
	t.Helper()
	d, err := Open(0)
	if err != nil {
		if err.Error() == "" {
			t.Fatal("Open failed with an empty message")
		}
		t.Skipf("no usable GPU: %v", err)
	}
	t.Cleanup(d.Close)
	t.Logf("device: %s; driver %s, cuBLAS %s", d, d.DriverPath, d.BlasPath)
	return d
}

// TestLinearRows checks the row-major product y = x·Wᵀ through cuBLAS
// against a float64 loop.
func TestLinearRows(t *testing.T) {
	d := openOrSkip(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const rows, out, in = 37, 53, 70
	x, w := make([]float32, rows*in), make([]float32, out*in)
	for i := range x {
		x[i] = rng.Float32()*2 - 1
	}
	for i := range w {
		w[i] = rng.Float32()*2 - 1
	}
	y := make([]float32, rows*out)
	err := d.Run(func(s *Stream) error {
		bx, err := s.UploadFloats(x)
		if err != nil {
			return err
		}
		defer s.Free(bx)
		bw, err := s.UploadFloats(w)
		if err != nil {
			return err
		}
		defer s.Free(bw)
		by, err := s.Alloc(4 * len(y))
		if err != nil {
			return err
		}
		defer s.Free(by)
		if err := s.LinearRows(by.Ptr, bx.Ptr, bw.Ptr, rows, out, in, false); err != nil {
			return err
		}
		return s.CopyFloatsOut(y, by, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0
	for r := 0; r < rows; r++ {
		for o := 0; o < out; o++ {
			var want float64
			for k := 0; k < in; k++ {
				want += float64(x[r*in+k]) * float64(w[o*in+k])
			}
			worst = math.Max(worst, math.Abs(want-float64(y[r*out+o])))
		}
	}
	if worst > 1e-4 {
		t.Fatalf("max |diff| %.3g", worst)
	}
	t.Logf("max |diff| %.3g", worst)
}

// TestRMSNormKernel checks the rmsnorm kernel against runtime's formula.
func TestRMSNormKernel(t *testing.T) {
	d := openOrSkip(t)
	const rows, n = 5, 300
	x, w := make([]float32, rows*n), make([]float32, n)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range x {
		x[i] = rng.Float32()*4 - 2
	}
	for i := range w {
		w[i] = rng.Float32()
	}
	got := make([]float32, rows*n)
	err := d.Run(func(s *Stream) error {
		bx, _ := s.UploadFloats(x)
		bw, _ := s.UploadFloats(w)
		bo, err := s.Alloc(4 * len(got))
		if err != nil {
			return err
		}
		defer func() { s.Free(bx); s.Free(bw); s.Free(bo) }()
		if err := s.Launch("rmsnorm", rows, 256, 0, P(bo.Ptr), P(bx.Ptr), P(bw.Ptr), I(rows), I(n), F64(1e-5)); err != nil {
			return err
		}
		return s.CopyFloatsOut(got, bo, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < rows; r++ {
		var ss float64
		for _, v := range x[r*n : (r+1)*n] {
			ss += float64(v) * float64(v)
		}
		inv := float32(1 / math.Sqrt(ss/n+1e-5))
		for i := 0; i < n; i++ {
			if want := w[i] * (x[r*n+i] * inv); got[r*n+i] != want {
				t.Fatalf("row %d col %d: %v, want %v", r, i, got[r*n+i], want)
			}
		}
	}
}
