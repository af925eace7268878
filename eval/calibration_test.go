package eval

import (
	"strings"
	"testing"

	"github.com/hyquant/hyquant/datasets"
)

type byteTok struct{}

func (byteTok) Encode(s string) []int {
	ids := make([]int, len(s))
	for i := range s {
		ids[i] = int(s[i])
	}
	return ids
}

func TestSampleSegmentsReproducible(t *testing.T) {
	ids := make([]int, 1000)
	for i := range ids {
		ids[i] = i
	}
	a, err := SampleSegments(ids, 5, 100, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := SampleSegments(ids, 5, 100, 7)
	c, _ := SampleSegments(ids, 5, 100, 8)
	same := true
	for i := range a {
		if a[i][0] != b[i][0] {
			t.Fatal("same seed gave different segments")
		}
		if a[i][0] != c[i][0] {
			same = false
		}
		if len(a[i]) != 100 || a[i][99] != a[i][0]+99 {
			t.Fatalf("segment %d is not a contiguous window: %v", i, a[i][:3])
		}
	}
	if same {
		t.Fatal("different seeds gave identical segments")
	}
	if _, err := SampleSegments(ids[:50], 1, 100, 0); err == nil {
		t.Fatal("text shorter than a segment accepted")
	}
}

func TestCalibrationRefusesTestSplit(t *testing.T) {
	_, err := CalibrationSegments(byteTok{}, CalibrationConfig{Text: datasets.WikiText2Test, Segments: 1, Length: 8})
	if err == nil || !strings.Contains(err.Error(), "evaluation set") {
		t.Fatalf("calibrating on the test split: %v", err)
	}
	segs, err := CalibrationSegments(byteTok{}, CalibrationConfig{Segments: 2, Length: 16, Seed: 1})
	if err != nil || len(segs) != 2 {
		t.Fatalf("default calibration text: %v", err)
	}
}
