package runtime

import (
	"math"

	"github.com/hyquant/hyquant/internal/parallel"
)

// rmsNorm writes weight * x / sqrt(mean(x^2) + eps) for each of the n rows
// of width d (NemotronH's RMSNorm; the mean is accumulated in float64).
func rmsNorm(dst, x, weight []float32, n, d int, eps float64) {
	parallel.For(n, 64, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			normalizeRow(dst[t*d:(t+1)*d], x[t*d:(t+1)*d], weight, eps)
		}
	})
}

// normalizeRow RMS-normalises one vector and scales it by weight.
func normalizeRow(dst, x, weight []float32, eps float64) {
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	inv := float32(1 / math.Sqrt(ss/float64(len(x))+eps))
	for i, v := range x {
		dst[i] = weight[i] * (v * inv)
	}
}
