// Package finite finds NaNs and infinities in large slices, on every core.
package finite

import (
	"math"

	"github.com/hyquant/hyquant/internal/parallel"
)

// chunk is the fewest values one worker scans.
const chunk = 1 << 18

// First is the index of the first NaN or infinity of x, or -1.
func First[T float32 | float64](x []T) int {
	return parallel.First(len(x), chunk, func(lo, hi int) int {
		for i, v := range x[lo:hi] {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return lo + i
			}
		}
		return -1
	})
}
