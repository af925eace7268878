package search

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/runtime"
)

func openMini(t *testing.T) *runtime.Loaded {
	t.Helper()
	l, err := runtime.OpenModel("", runtime.WeightsFloat32)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestScorerAgreesWithCompare: the scorer's KL and loss increase equal
// eval.Compare's (llama.cpp's definitions, checked there by hand) on the
// same windows, and starting from a cached block input gives what the full
// forward pass gives.
func TestScorerAgreesWithCompare(t *testing.T) {
	l := openMini(t)
	text, err := datasets.Load(datasets.WikiText103Valid)
	if err != nil {
		t.Fatal(err)
	}
	ids := l.Tokenizer.Encode(text.Body[:20000])
	wins := eval.Windows(ids, 96, 3)
	s := space(t, l.Model.Config)
	se, err := NewSearcher(Setup{Space: s, Model: l.Model, Weights: l.Weights, Objective: KL, Calibration: wins[:1], Sensitivity: wins, HeldOut: wins[:1], Records: &Records{Dir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	ppl, err := NewScorer(l.Model, PPL, wins)
	if err != nil {
		t.Fatal(err)
	}
	// A projection of block 9, so the cached block input matters.
	var t9 int
	for i, tt := range s.Tensors {
		if tt.Param.Layer == 9 {
			t9 = i
		}
	}
	q2 := 0 // q2_K, the first format
	m, from, err := se.variant(map[int]int{t9: q2})
	if err != nil {
		t.Fatal(err)
	}
	if from != 9 {
		t.Fatalf("variant starts at block %d, want 9", from)
	}
	kl, err := se.sens.Score(m, from)
	if err != nil {
		t.Fatal(err)
	}
	klFull, err := se.sens.Score(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	if kl != klFull {
		t.Errorf("KL from block 9 %.17g, from the embedding %.17g", kl, klFull)
	}
	dnll, err := ppl.Score(m, from)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := eval.Compare(m, l.Model, ids, 96, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(kl-ref.MeanKL) > 1e-6*ref.MeanKL {
		t.Errorf("scorer KL %.9g, eval.Compare %.9g", kl, ref.MeanKL)
	}
	if d := ref.MeanNLL - ref.MeanNLLBase; math.Abs(dnll-d) > 1e-9 {
		t.Errorf("scorer loss increase %.12g, eval.Compare %.12g", dnll, d)
	}
	if base, _ := se.sens.Score(l.Model, len(l.Model.Blocks)); math.Abs(base) > 1e-7 {
		t.Errorf("the float model's KL from itself is %g", base)
	}
	if kl <= 1e-4 {
		t.Errorf("q2_K of block 9's projection costs a KL of only %g", kl)
	}
}

func tinyOptions(work string) Options {
	fs, _ := ParseFormats("q4_0,q8_0,bf16")
	return Options{Name: "tiny", Formats: fs, Rounding: RoundRTN, Objective: KL,
		Calibration: eval.CalibrationConfig{Text: datasets.WikiText103Valid, Segments: 2, Length: 64},
		Windows:     2, HeldOut: 2, WindowLength: 64,
		Refine: RefineOptions{Generations: 3, Offspring: 2, Seed: 1}, Work: work}
}

func readAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			out[path[len(dir):]] = string(b)
		}
		return nil
	})
	return out
}

// TestSearchResumes: a search interrupted during its sensitivities, then
// rerun on the same work directory, ends exactly where an uninterrupted
// search ends; a third run measures nothing (every record is read back,
// byte for byte unchanged) and gives the same plan.
func TestSearchResumes(t *testing.T) {
	l := openMini(t)
	m, err := Loaded(l, bf16)
	if err != nil {
		t.Fatal(err)
	}
	s := space(t, l.Model.Config)
	fs, _ := ParseFormats("q4_0,q8_0,bf16")
	s3, _ := NewSpace(s.Inventory, bf16, fs, RoundRTN, 0)
	mid := s3.Smallest() + (s3.Bytes(lastChoice(s3))-s3.Smallest())/3
	b := strconv.FormatInt(mid, 10)

	whole, err := Run(m, b, nil, tinyOptions(filepath.Join(t.TempDir(), "whole")))
	if err != nil {
		t.Fatal(err)
	}
	if whole.Bytes > mid || whole.Bytes < mid-mid/50 {
		t.Errorf("chose %d bytes for a budget of %d", whole.Bytes, mid)
	}

	work := filepath.Join(t.TempDir(), "resumed")
	ctx, cancel := context.WithCancel(context.Background())
	o := tinyOptions(work)
	o.Context = ctx
	stage := ""
	o.Stage = func(name string, total int) { stage = name }
	o.Progress = func(done int, detail string) {
		if stage == "sensitivity" && done == 20 {
			cancel()
		}
	}
	if _, err := Run(m, b, nil, o); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted search: %v", err)
	}
	partial := readAll(t, work)
	if n := len(partial); n < 10 || n > 25 {
		t.Errorf("the interrupted search left %d records", n)
	}
	resumed, err := Run(m, b, nil, tinyOptions(work))
	if err != nil {
		t.Fatal(err)
	}
	after := readAll(t, work)
	unchanged(t, partial, after, "the resumed search measured %s again")
	if !slices.Equal(resumed.Pick, whole.Pick) || resumed.FinalHeldOut != whole.FinalHeldOut || resumed.Predicted != whole.Predicted {
		t.Errorf("resumed search: %v (held-out %g), uninterrupted: %v (%g)", resumed.Pick, resumed.FinalHeldOut, whole.Pick, whole.FinalHeldOut)
	}
	again, err := Run(m, b, nil, tinyOptions(work))
	if err != nil {
		t.Fatal(err)
	}
	unchanged(t, after, readAll(t, work), "a finished search's rerun rewrote %s")
	if !slices.Equal(again.Pick, whole.Pick) {
		t.Errorf("third run picked %v, want %v", again.Pick, whole.Pick)
	}
	if whole.Refinement.Generations != 3 || whole.FinalHeldOut > whole.KnapsackHeldOut {
		t.Errorf("refinement: %d generations, held-out %g from %g", whole.Refinement.Generations, whole.FinalHeldOut, whole.KnapsackHeldOut)
	}
}

// unchanged reports every record of before that after holds differently.
func unchanged(t *testing.T, before, after map[string]string, format string) {
	t.Helper()
	for name, body := range before {
		if after[name] != body {
			t.Errorf(format, name)
		}
	}
}

func lastChoice(s *Space) []int {
	pick := make([]int, len(s.Tensors))
	for i, t := range s.Tensors {
		pick[i] = t.order[len(t.order)-1]
	}
	return pick
}
