package finite

import (
	"math"
	"testing"
)

// First finds the first non-finite value wherever it lies across the
// workers' chunks, and -1 when there is none.
func TestFirst(t *testing.T) {
	x := make([]float32, 3*chunk+5)
	if i := First(x); i != -1 {
		t.Fatalf("all zeros: %d, want -1", i)
	}
	x[2*chunk+7] = float32(math.Inf(-1))
	x[3*chunk+1] = float32(math.NaN())
	if i := First(x); i != 2*chunk+7 {
		t.Fatalf("first non-finite at %d, want %d", i, 2*chunk+7)
	}
	y := []float64{1, math.MaxFloat64, math.NaN()}
	if i := First(y); i != 2 {
		t.Fatalf("float64: %d, want 2", i)
	}
}
