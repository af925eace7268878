package experiments

import (
	"math"

	"github.com/hyquant/hyquant/runtime"
)

// maxStatRows caps the output channels sampled per category.
const maxStatRows = 3000

// weightStats computes per-output-channel outlier statistics of the
// original weights of every projection and embedding category:
// max|w|/std(w) and excess kurtosis of each row (rows subsampled evenly
// to at most maxStatRows per category).
func weightStats(ws runtime.WeightSource, inv *runtime.Inventory) ([]CategoryWeightStats, error) {
	byCat := map[runtime.Category][]runtime.Param{}
	rows := map[runtime.Category]int{}
	for _, p := range inv.Params {
		if p.Matrix || p.Category == runtime.Embedding {
			byCat[p.Category] = append(byCat[p.Category], p)
			rows[p.Category] += p.Shape[0]
		}
	}
	var out []CategoryWeightStats
	for _, c := range runtime.Categories {
		ps := byCat[c]
		if len(ps) == 0 {
			continue
		}
		stride := max(1, (rows[c]+maxStatRows-1)/maxStatRows)
		st := CategoryWeightStats{Category: string(c)}
		k := 0
		for _, p := range ps {
			w, err := ws.Float32(p.Name, p.Shape...)
			if err != nil {
				return nil, err
			}
			cols := len(w) / p.Shape[0]
			for r := 0; r < p.Shape[0]; r++ {
				if k++; (k-1)%stride != 0 {
					continue
				}
				ratio, kurt := rowStats(w[r*cols : (r+1)*cols])
				st.MaxOverStd = append(st.MaxOverStd, ratio)
				st.Kurtosis = append(st.Kurtosis, kurt)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// rowStats returns max|x|/std(x) and the excess kurtosis of x (0 for a
// constant row).
func rowStats(x []float32) (maxOverStd, kurtosis float64) {
	n := float64(len(x))
	var mean, amax float64
	for _, v := range x {
		mean += float64(v)
		amax = math.Max(amax, math.Abs(float64(v)))
	}
	mean /= n
	var m2, m4 float64
	for _, v := range x {
		d := float64(v) - mean
		m2 += d * d
		m4 += d * d * d * d
	}
	m2 /= n
	m4 /= n
	if m2 == 0 {
		return 0, 0
	}
	return amax / math.Sqrt(m2), m4/(m2*m2) - 3
}
