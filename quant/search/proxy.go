package search

import (
	"fmt"

	"github.com/hyquant/hyquant/runtime/safetensors"
)

// proxyRows is how many rows of a tensor the proxy quantises.
const proxyRows = 64

// proxySensitivities is the proxy objective: no forward pass. Each choice
// costs the tensor's relative weight error in that format, Σ w_c (Ŵ−W)² /
// Σ w_c W² over a sample of rows (w_c: the column's importance, the mean
// x² of its calibration inputs; 1 without calibration), times the tensor's
// share of the searched parameters, so errors of large tensors weigh
// more. Block formats are rounded as llama-quantize rounds them (GPTQ needs
// whole tensors and their Hessians, which is what the proxy avoids).
func (s *Searcher) proxySensitivities(progress func(done, total int, detail string)) ([][]float64, error) {
	var params int64
	for _, t := range s.Space.Tensors {
		params += t.Param.NumElements()
	}
	total := s.Space.Choices()
	out := make([][]float64, len(s.Space.Tensors))
	done := 0
	step := func(detail string) {
		done++
		if progress != nil {
			progress(done, total, detail)
		}
	}
	for t, tt := range s.Space.Tensors {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		name := "proxy/" + fileName(tt.Param.Name) + ".json"
		var rec ProxyRecord
		if ok, err := s.records.Load(name, &rec); err != nil {
			return nil, err
		} else if ok && len(rec.Costs) == len(tt.Options) {
			out[t] = rec.Costs
			done += len(tt.Options) - 1
			step(shortName(tt.Param.Name))
			continue
		}
		costs, err := s.proxyCosts(tt, float64(tt.Param.NumElements())/float64(params), step)
		if err != nil {
			return nil, err
		}
		out[t] = costs
		rec = ProxyRecord{Tensor: tt.Param.Name, Costs: costs}
		for _, c := range tt.Options {
			rec.Formats = append(rec.Formats, c.Format.Name)
		}
		if err := s.records.Save(name, rec); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// proxyCosts is one tensor's proxy cost in each of its choices; share is
// its part of the searched parameters, and step is called after each.
func (s *Searcher) proxyCosts(tt Tensor, share float64, step func(detail string)) ([]float64, error) {
	w, err := s.weights.Float32(tt.Param.Name, tt.Param.Shape...)
	if err != nil {
		return nil, err
	}
	rows := sampleRows(w, tt.Rows, tt.Cols)
	n := len(rows) / tt.Cols
	st := s.stats[tt.Param.Name]
	imp := make([]float32, tt.Cols)
	if st != nil {
		imp = st.MeanSquares()
	} else {
		for i := range imp {
			imp[i] = 1
		}
	}
	costs := make([]float64, len(tt.Options))
	for k, c := range tt.Options {
		q := make([]float32, len(rows))
		switch {
		case c.Format.Keep != "":
			for i, v := range rows {
				q[i] = safetensors.RoundTo(v, c.Format.Keep)
			}
		default:
			rb, _ := c.Format.Type.RowBytes(int64(tt.Cols))
			blocks := make([]byte, int64(n)*rb)
			var im []float32
			if c.Spec.Imatrix && st != nil {
				im = imp
			}
			if err := c.Format.Type.Quantize(blocks, rows, n, tt.Cols, im); err != nil {
				return nil, fmt.Errorf("%s in %s: %w", tt.Param.Name, c.Format.Name, err)
			}
			if err := c.Format.Type.Dequantize(q, blocks); err != nil {
				return nil, err
			}
		}
		costs[k] = share * relativeError(rows, q, imp, tt.Cols)
		step(fmt.Sprintf("%s %s", shortName(tt.Param.Name), c.Format.Name))
	}
	return costs, nil
}

// ProxyRecord is one tensor's proxy costs, one per choice.
type ProxyRecord struct {
	Tensor  string    `json:"tensor"`
	Formats []string  `json:"formats"`
	Costs   []float64 `json:"costs"`
}

// sampleRows copies up to proxyRows rows spread evenly over the matrix.
func sampleRows(w []float32, rows, cols int) []float32 {
	n := min(rows, proxyRows)
	out := make([]float32, 0, n*cols)
	for i := 0; i < n; i++ {
		r := i * rows / n
		out = append(out, w[r*cols:(r+1)*cols]...)
	}
	return out
}

// relativeError is Σ imp_c (q−w)² / Σ imp_c w² over rows of cols values.
func relativeError(w, q, imp []float32, cols int) float64 {
	var num, den float64
	for i, v := range w {
		c := float64(imp[i%cols])
		d := float64(q[i]) - float64(v)
		num += c * d * d
		den += c * float64(v) * float64(v)
	}
	if den == 0 {
		return 0
	}
	return num / den
}
