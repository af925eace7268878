package eval

import (
	"math"
	"testing"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// The protocol end to end on a window subset: the first window's loss
// equals the mean of the reference per-token losses of golden.safetensors
// (which are those of the first 1024 test tokens).
func TestPerplexityFirstWindowMatchesGolden(t *testing.T) {
	l := openMini(t)
	ids := l.Tokenizer.Encode(JoinRows(datasets.MustEmbedded(datasets.WikiText2Test).Body))
	if len(ids) != 380381 {
		t.Fatalf("%d test tokens, want 380,381", len(ids))
	}
	r, err := Perplexity(l.Model, ids, 1024, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	g, err := safetensors.Open("../models/nemotron-h-mini/golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	nll, _, err := g.Float32("nll")
	if err != nil {
		t.Fatal(err)
	}
	var mean float64
	for _, v := range nll {
		mean += float64(v)
	}
	mean /= float64(len(nll))
	if d := math.Abs(r.WindowNLL[0] - mean); d > 1e-5 {
		t.Errorf("window 0 loss %.7f, reference %.7f (|diff| %.2g)", r.WindowNLL[0], mean, d)
	}
	if r.Windows != 2 || r.Tokens != 2048 || math.Abs(r.PPL-math.Exp((r.WindowNLL[0]+r.WindowNLL[1])/2)) > 1e-9 {
		t.Errorf("result %+v", r)
	}
}
