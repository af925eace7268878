package search

import (
	"fmt"
	"strings"
	"time"
)

// SensitivityRecord is one measured choice: tensor alone in format, every
// other tensor float, the objective's increase over the float model's on
// the sensitivity windows.
type SensitivityRecord struct {
	Tensor    string  `json:"tensor"`
	Format    string  `json:"format"`
	Bytes     int64   `json:"bytes"`
	Objective string  `json:"objective"`
	Increase  float64 `json:"increase"`
	Tokens    int     `json:"tokens"`
	Seconds   float64 `json:"seconds"`
}

func sensitivityFile(tensor, format string) string {
	return "sensitivity/" + fileName(tensor) + "@" + format + ".json"
}

// Sensitivities returns, for every tensor and choice, the objective's
// increase when that tensor alone takes that choice: read from the records
// where measured before, measured and recorded otherwise. A choice that
// changes no value (bf16 of a bf16 tensor) costs 0 without a measurement.
// progress is called after each choice with the number done.
func (s *Searcher) Sensitivities(progress func(done, total int, detail string)) ([][]float64, error) {
	if s.sens == nil {
		return s.proxySensitivities(progress)
	}
	total := s.Space.Choices()
	out := make([][]float64, len(s.Space.Tensors))
	done := 0
	for t, tt := range s.Space.Tensors {
		out[t] = make([]float64, len(tt.Options))
		for k, c := range tt.Options {
			if err := s.ctx.Err(); err != nil {
				return nil, err
			}
			v, err := s.sensitivity(t, k)
			if err != nil {
				return nil, err
			}
			out[t][k] = v
			done++
			if progress != nil {
				progress(done, total, fmt.Sprintf("%s %s", shortName(tt.Param.Name), c.Format.Name))
			}
		}
	}
	s.costs = out
	return out, nil
}

// sensitivity measures (or reads) one choice.
func (s *Searcher) sensitivity(t, k int) (float64, error) {
	tt := s.Space.Tensors[t]
	c := tt.Options[k]
	if c.Format.lossless(tt.Stored) {
		return 0, nil
	}
	name := sensitivityFile(tt.Param.Name, c.Format.Name)
	var rec SensitivityRecord
	if ok, err := s.records.Load(name, &rec); err != nil || ok {
		return rec.Increase, err
	}
	start := time.Now()
	m, from, err := s.variant(map[int]int{t: k})
	if err != nil {
		return 0, err
	}
	v, err := s.sens.Score(m, from)
	if err != nil {
		return 0, fmt.Errorf("%s in %s: %w", tt.Param.Name, c.Format.Name, err)
	}
	rec = SensitivityRecord{Tensor: tt.Param.Name, Format: c.Format.Name, Bytes: c.Bytes, Objective: string(s.sens.objective),
		Increase: v - s.sensBase, Tokens: s.sens.Tokens(), Seconds: time.Since(start).Seconds()}
	return rec.Increase, s.records.Save(name, rec)
}

// shortName drops the common prefix and suffix of a tensor name.
func shortName(name string) string {
	return strings.TrimSuffix(strings.TrimPrefix(name, "backbone.layers."), ".weight")
}
