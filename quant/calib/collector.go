package calib

import (
	"math"
	"sync"

	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/quant"
)

// Collector is a runtime.Observer that accumulates Stats (XᵀX, channel sums
// and absmax) for the linear layers it is asked about, in bounded memory.
type Collector struct {
	mu    sync.Mutex
	want  map[string]bool
	Stats map[string]*quant.Stats

	queue       []committed // batches committed but not yet added (flush adds them)
	queuedBytes int
}

// committed is one batch waiting in a Collector's queue.
type committed struct {
	name       string
	b          batch
	x          []float32
	rows, cols int
}

// A Collector's queue is added once it holds this many batches or bytes:
// one parallel pass over the columns for many batches instead of one per
// batch (each a few microseconds of work on many cores, bound by waking
// them).
const (
	flushBatches = 16
	flushBytes   = 256 << 20
)

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
	c.accumulate(name, newBatch(x, rows, cols), x, rows, cols)
}

// batch is what one batch of inputs adds to a layer's statistics that does
// not depend on the order of the batches: its float32 gram and each
// column's largest magnitude.
type batch struct {
	gram, absMax []float32
}

func newBatch(x []float32, rows, cols int) batch {
	m := make([]float32, cols)
	for r := 0; r < rows; r++ {
		for j, v := range x[r*cols : (r+1)*cols] {
			if a := float32(math.Abs(float64(v))); a > m[j] {
				m[j] = a
			}
		}
	}
	return batch{gram: gram(x, rows, cols), absMax: m}
}

// gram is xᵀx of one batch of inputs in float32 (rows ≤ a segment).
func gram(x []float32, rows, cols int) []float32 {
	xt := make([]float32, cols*rows)
	parallel.For(cols, 64, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			for r := 0; r < rows; r++ {
				xt[j*rows+r] = x[r*cols+j]
			}
		}
	})
	g := make([]float32, cols*cols)
	kernels.MatMulNT(g, xt, xt, cols, cols, rows)
	return g
}

// accumulate adds one batch to the layer's statistics in float64.
func (c *Collector) accumulate(name string, b batch, x []float32, rows, cols int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add([]committed{{name, b, x, rows, cols}})
}

// add adds batches to their layers' statistics (c.mu held), each layer's
// in the order given. Each value is added in the order of the batches and
// of their rows, so the sums are the same however the work is split across
// the columns and however the batches are grouped into calls; the largest
// magnitudes are the same in any order.
func (c *Collector) add(batches []committed) {
	var names []string
	byName := map[string][]committed{}
	for _, b := range batches {
		if _, ok := byName[b.name]; !ok {
			names = append(names, b.name)
		}
		byName[b.name] = append(byName[b.name], b)
	}
	for _, name := range names {
		c.addLayer(name, byName[name])
	}
}

// addLayer adds one layer's batches, in order, in one pass over its columns.
func (c *Collector) addLayer(name string, run []committed) {
	cols := run[0].cols
	s := c.Stats[name]
	if s == nil {
		s = quant.NewStats(name, cols)
		c.Stats[name] = s
	}
	parallel.For(cols, 16, func(lo, hi int) {
		for _, bt := range run {
			kernels.AddWidened64(s.XtX[lo*cols:hi*cols], bt.b.gram[lo*cols:hi*cols])
			for r := 0; r < bt.rows; r++ {
				kernels.AddWidened64(s.Sum[lo:hi], bt.x[r*cols+lo:r*cols+hi])
			}
			for j := lo; j < hi; j++ {
				if m := bt.b.absMax[j]; m > s.AbsMax[j] {
					s.AbsMax[j] = m
				}
			}
		}
	})
	for _, bt := range run {
		s.Rows += int64(bt.rows)
	}
}

// flush adds the batches queued by commit.
func (c *Collector) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.add(c.queue)
	c.queue, c.queuedBytes = nil, 0
}

// prepare is the part of an observation that does not depend on the order
// of batches (the gram and the largest magnitudes), done where the inputs
// were captured; commit adds it in order. Observers without such a split
// see the inputs at commit. commit queues the batch (Stats is complete
// once flush has run).
func (c *Collector) prepare(name string, x []float32, rows, cols int) any {
	if !c.want[name] {
		return nil
	}
	return newBatch(x, rows, cols)
}

func (c *Collector) commit(name string, x []float32, rows, cols int, prepared any) {
	b, ok := prepared.(batch)
	if !ok {
		return
	}
	c.mu.Lock()
	c.queue = append(c.queue, committed{name, b, x, rows, cols})
	c.queuedBytes += 4 * (len(b.gram) + len(b.absMax) + rows*cols)
	full := len(c.queue) >= flushBatches || c.queuedBytes >= flushBytes
	c.mu.Unlock()
	if full {
		c.flush()
	}
}
