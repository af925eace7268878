package eval

import (
	"fmt"
	"math"
	"slices"
)

// KLStats summarises KL(P_base || P_model) and top-1 agreement over the
// scored positions, with the definitions of llama.cpp's
// `llama-perplexity --kl-divergence` (tools/perplexity/perplexity.cpp).
type KLStats struct {
	Positions int `json:"kl_positions"` // positions compared
	// MeanKL is the mean over positions of Σ_v p_base(v)·(log p_base(v) −
	// log p_model(v)), in nats; MeanKLSE its standard error.
	MeanKL   float64 `json:"mean_kl"`
	MeanKLSE float64 `json:"mean_kl_se"`
	// Percentiles of the per-position KL: linear interpolation between the
	// sorted values at fraction·(n−1); the median is the middle value or
	// the mean of the two middle ones.
	KLMedian float64 `json:"kl_median"`
	KLP90    float64 `json:"kl_p90"`
	KLP99    float64 `json:"kl_p99"`
	KLP999   float64 `json:"kl_p999"`
	KLMax    float64 `json:"kl_max"`
	// Top1Agreement is the share of positions where both models' most
	// likely token is the same (ties go to the lowest token id);
	// Top1AgreementSE its binomial standard error.
	Top1Agreement   float64 `json:"top1_agreement"`
	Top1AgreementSE float64 `json:"top1_agreement_se"`
}

// rowComparison is one position's comparison of two logits rows.
type rowComparison struct {
	KL           float64 // KL(P_base || P_model), nats
	Top, TopBase int     // argmax token of the model and of the baseline
}

// compareRows computes, in float64 from each row's log-softmax,
// KL(P_base || P_model) and both argmax tokens (the lowest index on ties).
// scratch holds len(base) values. Non-finite logits or KL are errors.
func compareRows(base, model []float32, scratch []float64) (rowComparison, error) {
	if len(base) != len(model) || len(base) == 0 {
		return rowComparison{}, fmt.Errorf("logits rows of %d and %d values", len(base), len(model))
	}
	topBase, err := argmaxFinite(base)
	if err != nil {
		return rowComparison{}, fmt.Errorf("baseline logits: %w", err)
	}
	top, err := argmaxFinite(model)
	if err != nil {
		return rowComparison{}, fmt.Errorf("model logits: %w", err)
	}
	// exp(x_base - max) for every token, kept: p_base = e / s.
	mb := float64(base[topBase])
	e := scratch[:len(base)]
	var s float64
	for i, x := range base {
		e[i] = math.Exp(float64(x) - mb)
		s += e[i]
	}
	lseBase := mb + math.Log(s)
	lseModel := logSumExp64(model, float64(model[top]))
	// log p_base − log p_model = (x_base − x_model) − (lse_base − lse_model).
	c := lseBase - lseModel
	var kl float64
	for i, x := range base {
		kl += e[i] / s * ((float64(x) - float64(model[i])) - c)
	}
	if !isFinite(kl) {
		return rowComparison{}, fmt.Errorf("KL divergence %g", kl)
	}
	return rowComparison{KL: kl, Top: top, TopBase: topBase}, nil
}

// argmaxFinite returns the index of the largest value (the lowest index
// among equal ones), or an error naming the first non-finite value.
func argmaxFinite(x []float32) (int, error) {
	best := 0
	for i, v := range x {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("logit %d is %g", i, v)
		}
		if v > x[best] {
			best = i
		}
	}
	return best, nil
}

// logSumExp64 is log Σ exp(x) in float64, shifted by max = max(x).
func logSumExp64(x []float32, max float64) float64 {
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - max)
	}
	return max + math.Log(s)
}

// klAccumulator gathers per-position comparisons into KLStats.
type klAccumulator struct {
	sum, sum2   float64
	same, count int
	values      []float64 // every position's KL, for the percentiles
}

func (a *klAccumulator) add(r rowComparison) {
	a.sum += r.KL
	a.sum2 += r.KL * r.KL
	a.count++
	if r.Top == r.TopBase {
		a.same++
	}
	a.values = append(a.values, r.KL)
}

// stats computes the summary; it sorts the gathered values.
func (a *klAccumulator) stats() KLStats {
	if a.count == 0 {
		return KLStats{}
	}
	v := a.values
	slices.Sort(v)
	st := KLStats{Positions: a.count, KLMax: v[len(v)-1],
		KLMedian: percentile(v, 0.5), KLP90: percentile(v, 0.9), KLP99: percentile(v, 0.99), KLP999: percentile(v, 0.999)}
	st.MeanKL, st.MeanKLSE = meanAndUncertainty(a.sum, a.sum2, a.count)
	st.Top1Agreement = float64(a.same) / float64(a.count)
	if a.count > 1 {
		p := st.Top1Agreement
		st.Top1AgreementSE = math.Sqrt(p * (1 - p) / float64(a.count-1))
	}
	return st
}

// meanAndUncertainty is the mean of count values from their sum and sum of
// squares, and its standard error sqrt((E[x²] − E[x]²)/(count−1)), which
// is 0 for a non-positive variance or at most 10 values (llama.cpp's rule).
func meanAndUncertainty(sum, sum2 float64, count int) (mean, se float64) {
	if count < 1 {
		return 0, 0
	}
	mean = sum / float64(count)
	if v := sum2/float64(count) - mean*mean; v > 0 && count > 10 {
		se = math.Sqrt(v / float64(count-1))
	}
	return mean, se
}

// percentile of sorted values: linear interpolation at fraction·(n−1);
// fraction ≤ 0 gives the minimum and ≥ 1 the maximum. At 0.5 it is the
// median (the mean of the two middle values when n is even).
func percentile(sorted []float64, fraction float64) float64 {
	if fraction <= 0 {
		return sorted[0]
	}
	if fraction >= 1 {
		return sorted[len(sorted)-1]
	}
	p := fraction * float64(len(sorted)-1)
	ip := int(p)
	p -= float64(ip)
	return (1-p)*sorted[ip] + p*sorted[min(ip+1, len(sorted)-1)]
}
