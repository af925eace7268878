package experiments

import (
	"math"
	"testing"
)

func TestRowStats(t *testing.T) {
	// x = {-1, 1, -1, 1}: std 1, max 1, kurtosis 1 - 3 = -2.
	r, k := rowStats([]float32{-1, 1, -1, 1})
	if math.Abs(r-1) > 1e-12 || math.Abs(k+2) > 1e-12 {
		t.Fatalf("got %v %v", r, k)
	}
	// One outlier among zeros: {0,0,0,4}: mean 1, m2 = 3, m4 = (1+1+1+81)/4 = 21; kurtosis 21/9-3.
	r, k = rowStats([]float32{0, 0, 0, 4})
	if math.Abs(r-4/math.Sqrt(3)) > 1e-12 || math.Abs(k-(21.0/9-3)) > 1e-12 {
		t.Fatalf("got %v %v", r, k)
	}
	if r, k := rowStats([]float32{2, 2}); r != 0 || k != 0 {
		t.Fatalf("constant row: %v %v", r, k)
	}
}
