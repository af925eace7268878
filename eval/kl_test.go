package eval

import (
	"math"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/kernels"
)

// klByProbabilities is KL(P || Q) from the probabilities themselves
// (unshifted softmax, Σ p·log(p/q)): an independent formula for the tests.
func klByProbabilities(base, model []float32) float64 {
	softmax := func(x []float32) []float64 {
		p := make([]float64, len(x))
		var s float64
		for i, v := range x {
			p[i] = math.Exp(float64(v))
			s += p[i]
		}
		for i := range p {
			p[i] /= s
		}
		return p
	}
	p, q := softmax(base), softmax(model)
	var kl float64
	for i := range p {
		kl += p[i] * math.Log(p[i]/q[i])
	}
	return kl
}

func TestCompareRowsByHand(t *testing.T) {
	// p_base = (1/4, 1/2, 1/4), p_model uniform: KL = ½·ln(9/8).
	base := []float32{0, float32(math.Ln2), 0}
	model := []float32{5, 5, 5}
	r, err := compareRows(base, model, make([]float64, 3))
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(r.KL - 0.5*math.Log(9.0/8)); d > 1e-7 {
		t.Errorf("KL %.10f, want ½ ln(9/8) = %.10f", r.KL, 0.5*math.Log(9.0/8))
	}
	if d := math.Abs(r.KL - klByProbabilities(base, model)); d > 1e-14 {
		t.Errorf("KL %.16f, by probabilities %.16f", r.KL, klByProbabilities(base, model))
	}
	// Ties go to the lowest index: the uniform model's top token is 0.
	if r.TopBase != 1 || r.Top != 0 {
		t.Errorf("top tokens base %d, model %d; want 1 and 0", r.TopBase, r.Top)
	}

	base = []float32{-1.5, 2, 0.25, 2, -3}
	model = []float32{0.5, 1, 1.75, -2, 0}
	r, err = compareRows(base, model, make([]float64, 5))
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(r.KL - klByProbabilities(base, model)); d > 1e-14 || r.TopBase != 1 || r.Top != 2 {
		t.Errorf("KL %.16f (by probabilities %.16f), tops %d %d", r.KL, klByProbabilities(base, model), r.TopBase, r.Top)
	}
	if r, _ := compareRows(model, model, make([]float64, 5)); r.KL != 0 || r.Top != r.TopBase {
		t.Errorf("a row against itself: %+v", r)
	}

	_, err = compareRows(base, []float32{0, float32(math.NaN()), 0, 0, 0}, make([]float64, 5))
	if err == nil || err.Error() != "model logits: logit 1 is NaN" {
		t.Errorf("NaN logit: %v", err)
	}
	_, err = compareRows([]float32{0, 0, float32(math.Inf(1)), 0, 0}, model, make([]float64, 5))
	if err == nil || err.Error() != "baseline logits: logit 2 is +Inf" {
		t.Errorf("Inf logit: %v", err)
	}
}

func TestKLStatsArithmetic(t *testing.T) {
	// Four values: no standard error below 11 values (llama.cpp's rule).
	a := &klAccumulator{}
	for _, v := range []float64{4, 1, 3, 2} {
		a.add(rowComparison{KL: v})
	}
	st := a.stats()
	want := KLStats{Positions: 4, MeanKL: 2.5, KLMedian: 2.5, KLP90: 3.7, KLP99: 3.97, KLP999: 3.997, KLMax: 4, Top1Agreement: 1}
	if !closeStats(st, want) {
		t.Errorf("stats %+v\nwant  %+v", st, want)
	}

	// 0..10: mean 5, E[x²] = 35, variance 10, SE sqrt(10/10) = 1; 8 of the
	// 11 top tokens agree: SE sqrt(p(1-p)/10). Odd count: the median is
	// the middle value.
	a = &klAccumulator{}
	for i := 10; i >= 0; i-- {
		top := 0
		if i < 3 {
			top = 1
		}
		a.add(rowComparison{KL: float64(i), Top: top})
	}
	st = a.stats()
	p := 8.0 / 11
	want = KLStats{Positions: 11, MeanKL: 5, MeanKLSE: 1, KLMedian: 5, KLP90: 9, KLP99: 9.9, KLP999: 9.99, KLMax: 10,
		Top1Agreement: p, Top1AgreementSE: math.Sqrt(p * (1 - p) / 10)}
	if !closeStats(st, want) {
		t.Errorf("stats %+v\nwant  %+v", st, want)
	}
}

func closeStats(a, b KLStats) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-12 }
	return a.Positions == b.Positions && near(a.MeanKL, b.MeanKL) && near(a.MeanKLSE, b.MeanKLSE) && near(a.KLMedian, b.KLMedian) &&
		near(a.KLP90, b.KLP90) && near(a.KLP99, b.KLP99) && near(a.KLP999, b.KLP999) && near(a.KLMax, b.KLMax) &&
		near(a.Top1Agreement, b.Top1Agreement) && near(a.Top1AgreementSE, b.Top1AgreementSE)
}

// inputQuantHead is a linear layer whose input rows are first rounded to a
// symmetric 4-bit grid (absmax/7 steps): a stand-in for a quantised lm_head.
type inputQuantHead struct{ kernels.Linear }

func (h inputQuantHead) Apply(y, x []float32, n int) {
	in := h.In()
	q := make([]float32, n*in)
	for r := 0; r < n; r++ {
		row := x[r*in : (r+1)*in]
		var amax float32
		for _, v := range row {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		step := amax / 7
		for i, v := range row {
			if step > 0 {
				q[r*in+i] = float32(math.Round(float64(v/step))) * step
			}
		}
	}
	h.Linear.Apply(y, q, n)
}

// nanHead writes NaN into one logit of one row.
type nanHead struct {
	kernels.Linear
	row, col int
}

func (h nanHead) Apply(y, x []float32, n int) {
	h.Linear.Apply(y, x, n)
	if h.row < n {
		y[h.row*h.Out()+h.col] = float32(math.NaN())
	}
}

func TestCompareMini(t *testing.T) {
	l := openMini(t)
	ids := l.Tokenizer.Encode(JoinRows(datasets.MustEmbedded(datasets.WikiText2Test).Body[:4000]))
	base, err := Perplexity(l.Model, ids, 64, 2, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("itself", func(t *testing.T) {
		r, err := Compare(l.Model, l.Model, ids, 64, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Positions != 126 || r.MeanKL != 0 || r.KLMax != 0 || r.Top1Agreement != 1 || r.DeltaPPL != 0 || r.PPLRatio != 1 || r.PPL != base.PPL {
			t.Errorf("the model against itself: %+v (ppl %v)", r, base.PPL)
		}
	})

	t.Run("quantised head", func(t *testing.T) {
		q := *l.Model
		q.LMHead = inputQuantHead{l.Model.LMHead}
		want, err := Perplexity(&q, ids, 64, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := Compare(&q, l.Model, ids, 64, 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		// The same arithmetic as Perplexity: equal, not close.
		if r.PPL != want.PPL || r.MeanNLL != want.MeanNLL || r.PPLBase != base.PPL || r.DeltaPPL != want.PPL-base.PPL {
			t.Errorf("ppl %v (Perplexity %v), base %v (Perplexity %v)", r.PPL, want.PPL, r.PPLBase, base.PPL)
		}
		if !(r.MeanKL > 1e-4 && r.MeanKL < 1) || r.MeanKLSE <= 0 || !(r.KLMedian > 0 && r.KLMedian <= r.KLP90 && r.KLP90 <= r.KLP99 && r.KLP99 <= r.KLP999 && r.KLP999 <= r.KLMax) ||
			!(r.Top1Agreement > 0.5 && r.Top1Agreement < 1) || r.Positions != 126 {
			t.Errorf("KL statistics %+v", r.KLStats)
		}
		t.Logf("mean KL %.6f ± %.6f, p99 %.6f, top-1 %.4f, ppl %.4f vs %.4f", r.MeanKL, r.MeanKLSE, r.KLP99, r.Top1Agreement, r.PPL, r.PPLBase)
	})

	t.Run("NaN logit", func(t *testing.T) {
		q := *l.Model
		q.LMHead = nanHead{l.Model.LMHead, 5, 3}
		_, err := Compare(&q, l.Model, ids, 64, 2, nil)
		if err == nil || !strings.Contains(err.Error(), "window 0: position 5: model logits: logit 3 is NaN") {
			t.Errorf("NaN logit: %v", err)
		}
	})
}
