package calib

import (
	"math"
	"testing"
)

func TestCollectorAccumulates(t *testing.T) {
	c := NewCollector("a")
	x1 := []float32{1, 2, -3, 4, 5, 6} // 2 rows × 3
	x2 := []float32{0, -7, 1}
	c.ObserveLinearInput("a", x1, 2, 3)
	c.ObserveLinearInput("a", x2, 1, 3)
	c.ObserveLinearInput("b", x2, 1, 3) // not asked for
	s := c.Stats["a"]
	if s.Rows != 3 || c.Stats["b"] != nil {
		t.Fatalf("rows %d, b %v", s.Rows, c.Stats["b"])
	}
	rows := [][]float64{{1, 2, -3}, {4, 5, 6}, {0, -7, 1}}
	for i := 0; i < 3; i++ {
		for j := 0; j < 3; j++ {
			var want float64
			for _, r := range rows {
				want += r[i] * r[j]
			}
			if math.Abs(s.XtX[i*3+j]-want) > 1e-9 {
				t.Errorf("XtX[%d][%d] = %v, want %v", i, j, s.XtX[i*3+j], want)
			}
		}
	}
	if s.Sum[1] != 0 || s.AbsMax[1] != 7 || s.AbsMax[2] != 6 {
		t.Errorf("sum %v absmax %v", s.Sum, s.AbsMax)
	}
	h := s.Hessian()
	if math.Abs(h[0]-2.0/3*17) > 1e-9 {
		t.Errorf("H[0][0] = %v", h[0])
	}
	cov := s.Covariance()
	// channel 0: values 1, 4, 0: mean 5/3, E[x²] = 17/3, var = 17/3 - 25/9
	if math.Abs(cov[0]-(17.0/3-25.0/9)) > 1e-9 {
		t.Errorf("cov[0][0] = %v", cov[0])
	}
}
