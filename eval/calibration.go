package eval

import (
	"fmt"
	"math/rand/v2"

	"github.com/hyquant/hyquant/datasets"
)

// CalibrationConfig chooses calibration data: Segments windows of Length
// tokens sampled reproducibly (Seed) from a text.
type CalibrationConfig struct {
	Text     string // embedded text name or file path; default public-domain-heldout
	Segments int
	Length   int
	Seed     int64
}

// DefaultCalibration is 32 segments of 512 tokens of the embedded
// public-domain held-out text, seed 0.
var DefaultCalibration = CalibrationConfig{Text: datasets.PublicDomainHeldout, Segments: 32, Length: 512, Seed: 0}

// Tokenizer is what calibration needs of a tokenizer.
type Tokenizer interface {
	Encode(text string) []int
}

// CalibrationSegments loads the text, tokenises it and samples the
// segments. It refuses texts reserved for evaluation (the WikiText-2 test
// split): calibrating on the test set would make every result optimistic.
func CalibrationSegments(tok Tokenizer, c CalibrationConfig) ([][]int, error) {
	if c.Text == "" {
		c.Text = DefaultCalibration.Text
	}
	t, err := datasets.Load(c.Text)
	if err != nil {
		return nil, err
	}
	if t.EvalOnly {
		return nil, fmt.Errorf("calibration text %q is the evaluation set; calibrate on other text (for example %s or %s)", c.Text, datasets.PublicDomainHeldout, datasets.WikiText103Valid)
	}
	return SampleSegments(tok.Encode(t.Body), c.Segments, c.Length, c.Seed)
}

// SampleSegments draws n windows of length tokens at uniformly random
// offsets of ids, reproducibly from seed (PCG). Segments may overlap.
func SampleSegments(ids []int, n, length int, seed int64) ([][]int, error) {
	if n <= 0 || length < 2 {
		return nil, fmt.Errorf("calibration needs at least one segment of at least 2 tokens (asked for %d of %d)", n, length)
	}
	if len(ids) < length {
		return nil, fmt.Errorf("calibration text has %d tokens, fewer than one segment of %d", len(ids), length)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	out := make([][]int, n)
	for i := range out {
		start := rng.IntN(len(ids) - length + 1)
		out[i] = ids[start : start+length]
	}
	return out, nil
}
