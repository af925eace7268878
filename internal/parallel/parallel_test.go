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

// Ordered consumes every item once, in order, after it was produced, and
// never has more than window items (or more than budget of cost, beyond a
// single item) produced and unconsumed.
func TestOrdered(t *testing.T) {
	for _, c := range []struct{ n, workers, window, budget int }{{0, 4, 4, 100}, {1, 4, 4, 100}, {50, 4, 8, 1 << 30}, {50, 8, 3, 1 << 30}, {50, 4, 16, 25}, {20, 3, 5, 1}} {
		cost := func(k int) int { return 1 + k%10 }
		var produced [64]atomic.Bool
		var inFlight, worst, held, worstHeld atomic.Int64
		next := 0
		Ordered(c.n, c.workers, c.window, c.budget, cost, func(k int) {
			if v := inFlight.Add(1); v > worst.Load() {
				worst.Store(v)
			}
			if h := held.Add(int64(cost(k))); h > worstHeld.Load() {
				worstHeld.Store(h)
			}
			produced[k].Store(true)
		}, func(k int) {
			if k != next || !produced[k].Load() {
				t.Fatalf("%+v: consumed %d (produced %v), want %d", c, k, produced[k].Load(), next)
			}
			next++
			inFlight.Add(-1)
			held.Add(-int64(cost(k)))
		})
		if next != c.n {
			t.Errorf("%+v: consumed %d items", c, next)
		}
		if worst.Load() > int64(max(1, c.window)) {
			t.Errorf("%+v: %d items produced ahead, window %d", c, worst.Load(), c.window)
		}
		if worstHeld.Load() > int64(max(c.budget, 10)) {
			t.Errorf("%+v: %d of cost held, budget %d", c, worstHeld.Load(), c.budget)
		}
	}
}
