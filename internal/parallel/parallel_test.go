package parallel

import (
	"sync/atomic"
	"testing"
)

func TestForCoversEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000} {
		for _, minChunk := range []int{0, 1, 3, 5000} {
			hits := make([]int32, n)
			For(n, minChunk, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("n=%d minChunk=%d: index %d visited %d times", n, minChunk, i, h)
				}
			}
		}
	}
}

func TestPartsBoundaries(t *testing.T) {
	var got [4][2]int
	Parts(10, 4, func(p, lo, hi int) { got[p] = [2]int{lo, hi} })
	want := [4][2]int{{0, 2}, {2, 5}, {5, 7}, {7, 10}}
	if got != want {
		t.Fatalf("parts %v, want %v", got, want)
	}
}

func TestFirstIsTheSmallestHit(t *testing.T) {
	for _, n := range []int{0, 1, 10, 1000, 100003} {
		for _, hit := range []int{-1, 0, n / 3, n - 1} {
			hits := map[int]bool{} // hit, and later ones
			if hit >= 0 {
				hits[hit], hits[hit+7], hits[n-1] = true, true, true
			}
			got := First(n, 16, func(lo, hi int) int {
				for i := lo; i < hi; i++ {
					if hits[i] && i < n {
						return i
					}
				}
				return -1
			})
			want := -1
			if n > 0 && hit >= 0 && hit < n {
				want = hit
			}
			if got != want {
				t.Errorf("n %d, first hit %d: First gave %d", n, hit, got)
			}
		}
	}
}
