package calib

import (
	"math"
	"sync"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/quant"
)

// Collector is a runtime.Observer that accumulates Stats (XᵀX, channel sums
// and absmax) for the linear layers it is asked about, in bounded memory.
type Collector struct {
	mu    sync.Mutex
	want  map[string]bool
	Stats map[string]*quant.Stats
}

// NewCollector collects statistics of the inputs of the named layers.
func NewCollector(names ...string) *Collector {
	c := &Collector{want: map[string]bool{}, Stats: map[string]*quant.Stats{}}
	for _, n := range names {
		c.want[n] = true
	}
	return c
}

// ObserveLinearInput implements runtime.Observer.
func (c *Collector) ObserveLinearInput(name string, x []float32, rows, cols int) {
	if !c.want[name] {
		return
	}
	// xᵀx for this batch in float32 (rows ≤ a segment), added in float64.
	xt := make([]float32, cols*rows)
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			xt[j*rows+r] = x[r*cols+j]
		}
	}
	g := make([]float32, cols*cols)
	kernels.MatMulNT(g, xt, xt, cols, cols, rows)

	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.Stats[name]
	if s == nil {
		s = quant.NewStats(name, cols)
		c.Stats[name] = s
	}
	for i, v := range g {
		s.XtX[i] += float64(v)
	}
	for r := 0; r < rows; r++ {
		row := x[r*cols : (r+1)*cols]
		for j, v := range row {
			s.Sum[j] += float64(v)
			if a := float32(math.Abs(float64(v))); a > s.AbsMax[j] {
				s.AbsMax[j] = a
			}
		}
	}
	s.Rows += int64(rows)
}
