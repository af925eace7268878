package gpu

import "testing"

// The lower triangle is filled from the upper one for sizes around the
// tile (64), the diagonal and the upper triangle left as they were.
func TestMirrorUpper(t *testing.T) {
	for _, n := range []int{1, 5, 64, 65, 200} {
		x := make([]float64, n*n)
		for r := 0; r < n; r++ {
			for c := r; c < n; c++ {
				x[r*n+c] = float64(r*1000 + c)
			}
		}
		mirrorUpper(x, n)
		for r := 0; r < n; r++ {
			for c := 0; c < n; c++ {
				a, b := min(r, c), max(r, c)
				if x[r*n+c] != float64(a*1000+b) {
					t.Fatalf("n %d: x[%d][%d] = %v", n, r, c, x[r*n+c])
				}
			}
		}
	}
}
