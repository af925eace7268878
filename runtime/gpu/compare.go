package gpu

import (
	"fmt"

	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/kernels/cuda"
)

// flatten lays equal-length windows end to end.
func flatten(windows [][]int) (ids []int, n int, err error) {
	n = len(windows[0])
	ids = make([]int, 0, len(windows)*n)
	for _, w := range windows {
		if len(w) != n {
			return nil, 0, fmt.Errorf("gpu: windows of %d and %d tokens in one batch", n, len(w))
		}
		ids = append(ids, w...)
	}
	return ids, n, nil
}

// nextTargets is each row's next token within its window (-1 for the last
// row of a window), for the loss kernels.
func nextTargets(ids []int, n int) []int32 {
	t := make([]int32, len(ids))
	for r := range t {
		if r%n == n-1 {
			t[r] = -1
		} else {
			t[r] = int32(ids[r+1])
		}
	}
	return t
}

// Compare runs g and base (on one device) over a batch of equal-length
// windows and compares them at every scored position, as
// eval.CompareContext does on the CPU: both forward passes and the
// comparison of the two logits rows run on the device, and only the
// per-position results come back. A logit that is not finite is an error
// naming its window and position.
func Compare(g, base *Model, windows [][]int) ([][]eval.Position, error) {
	if len(windows) == 0 {
		return nil, nil
	}
	if g == base {
		return nil, fmt.Errorf("gpu: the model and the baseline are one device copy (upload the baseline separately)")
	}
	if g.Dev != base.Dev {
		return nil, fmt.Errorf("gpu: the model and the baseline are on different devices")
	}
	if v, vb := g.Config.VocabSize, base.Config.VocabSize; v != vb {
		return nil, fmt.Errorf("the model has a vocabulary of %d tokens and the baseline %d: they cannot be compared", v, vb)
	}
	ids, n, err := flatten(windows)
	if err != nil {
		return nil, err
	}
	batch, rows, V := len(windows), len(ids), g.Config.VocabSize
	stats := make([]float64, 3*rows)
	tops := make([]int32, 2*rows)
	bad := make([]int32, rows)
	err = g.Dev.Run(func(s *cuda.Stream) error {
		for _, m := range []*Model{base, g} {
			if err := m.forward(s, ids, batch, n, nil); err != nil {
				return err
			}
			if err := m.finalNorm(s, rows); err != nil {
				return err
			}
		}
		var out, top, flag cuda.Buffer
		for _, b := range []struct {
			dst   *cuda.Buffer
			bytes int
		}{{&out, 8 * len(stats)}, {&top, 4 * len(tops)}, {&flag, 4 * rows}} {
			if *b.dst, err = s.Alloc(b.bytes); err != nil {
				return err
			}
			defer s.Free(*b.dst)
		}
		if err := s.CopyInt32sIn(g.sc.targets, 0, nextTargets(ids, n)); err != nil {
			return err
		}
		chunk := min(g.sc.logitRows, base.sc.logitRows)
		for r0 := 0; r0 < rows; r0 += chunk {
			r := min(chunk, rows-r0)
			for _, m := range []*Model{base, g} {
				if err := m.setMath(s); err != nil {
					return err
				}
				if err := m.apply(s, &m.head, m.sc.logits.Ptr, m.sc.normed.Float(r0*m.Config.HiddenSize), r); err != nil {
					return err
				}
			}
			if err := s.Launch("compare_rows", r, threads, 0, cuda.P(out.Ptr+uint64(24*r0)), cuda.P(top.Ptr+uint64(8*r0)), cuda.P(flag.Ptr+uint64(4*r0)),
				cuda.P(g.sc.logits.Ptr), cuda.P(base.sc.logits.Ptr), cuda.P(g.sc.targets.Ptr+uint64(4*r0)), cuda.I(r), cuda.I(V)); err != nil {
				return err
			}
		}
		if err := s.CopyFloat64sOut(stats, out); err != nil {
			return err
		}
		if err := s.CopyInt32sOut(tops, top); err != nil {
			return err
		}
		return s.CopyInt32sOut(bad, flag)
	})
	if err != nil {
		return nil, err
	}
	res := make([][]eval.Position, batch)
	for w := range res {
		res[w] = make([]eval.Position, n-1)
		for t := range res[w] {
			r := w*n + t
			if bad[r] != 0 {
				return nil, fmt.Errorf("window %d, position %d: a logit of the model or the baseline is not finite", w, t)
			}
			res[w][t] = eval.Position{KL: stats[3*r], NLL: stats[3*r+1], NLLBase: stats[3*r+2], Top: int(tops[2*r]), TopBase: int(tops[2*r+1])}
		}
	}
	return res, nil
}
