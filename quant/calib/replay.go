package calib

import (
	"runtime"

	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/kernels"
	hq "github.com/hyquant/hyquant/runtime"
)

// The calibrated pass runs one block over every calibration segment, with
// an observer accumulating statistics of the inputs its projections see.
// The segments are independent, so they run at once, each on its own
// clone of the model; what the observer must see, and in which order, is
// what a pass over the segments one at a time shows it: the inputs are
// captured per segment and replayed in segment order, so the float64 sums
// come out bit for bit the same for any number of workers.

// captureBudget bounds the captured inputs held at once (bytes; a
// Collector holds up to flushBytes more, replayed but not yet added).
const captureBudget = 1 << 30

// observedCall is one captured ObserveLinearInput.
type observedCall struct {
	name       string
	x          []float32
	rows, cols int
	prepared   any // the observer's order-free part, when it has one
}

// splitObserver is an observer whose work splits into a part that does not
// depend on the order of the calls (done concurrently, where the inputs
// are captured) and the part that does (done in order). commit may hold
// its calls back (bounded) and finish them all at once; flush finishes
// whatever it still holds.
type splitObserver interface {
	prepare(name string, x []float32, rows, cols int) any
	commit(name string, x []float32, rows, cols int, prepared any)
	flush()
}

// capture records the calls for the layers wanted.
type capture struct {
	want  func(name string) bool
	split splitObserver // nil: none
	calls []observedCall
}

func (c *capture) ObserveLinearInput(name string, x []float32, rows, cols int) {
	if !c.want(name) {
		return
	}
	call := observedCall{name: name, x: append([]float32(nil), x[:rows*cols]...), rows: rows, cols: cols}
	if c.split != nil {
		call.prepared = c.split.prepare(name, x, rows, cols)
	}
	c.calls = append(c.calls, call)
}

// observeBlock runs block i over copies of the block inputs hs (segment k
// of len(segs[k]) tokens), each on a clone of the model, and shows obs the
// inputs of the layers want selects, in segment order.
//
// When every projection observed reads the block's normalised input (the
// first ones of each mixer: runtime.ReadsBlockInput), that input is
// computed alone instead of running the block: the same values, the
// block's products not computed for nothing.
func observeBlock(m *hq.Model, i int, hs [][]float32, segs [][]int, obs hq.Observer, want func(string) bool, workers int) {
	var widths []int // the inputs of the projections observed
	var names []string
	first, last := true, -1 // last: the place of the last one observed among the block's projections
	for k, sl := range blockSlots(m, i) {
		if want(sl.Name) {
			widths, names = append(widths, (*sl.Ptr).In()), append(names, sl.Name)
			first, last = first && hq.ReadsBlockInput(sl.Category), k
		}
	}
	run := func(k int, o hq.Observer) {
		clone := m.Clone()
		clone.Observer = o
		if last >= 0 {
			for _, sl := range blockSlots(clone, i)[last:] {
				*sl.Ptr = unneeded{*sl.Ptr} // their inputs are observed before them
			}
		}
		tmp := append([]float32(nil), hs[k]...)
		clone.RunBlock(i, tmp, len(segs[k]))
	}
	if first && last >= 0 {
		run = func(k int, o hq.Observer) {
			n := len(segs[k])
			x := m.BlockInput(i, hs[k], n)
			for j, name := range names {
				o.ObserveLinearInput(name, x[:n*widths[j]], n, widths[j])
			}
		}
	}
	observeSegments(len(hs), run, obs, want, workers, captureBytes(widths, segs, obs))
}

// blockSlots are the projections of block i of m, in forward order.
func blockSlots(m *hq.Model, i int) []hq.LinearSlot {
	var out []hq.LinearSlot
	for _, sl := range m.Linears() {
		if sl.Layer == i {
			out = append(out, sl)
		}
	}
	return out
}

// unneeded is a projection whose output nobody reads (observeBlock's
// products from the last observed projection on: the block's output is
// not kept): Apply leaves y as it is.
type unneeded struct{ kernels.Linear }

func (unneeded) Apply(y, x []float32, n int) {}

// captureBytes estimates what segment k's capture holds when obs sees
// inputs of the given widths: the inputs, and a split observer's gram of
// each.
func captureBytes(widths []int, segs [][]int, obs hq.Observer) func(k int) int {
	_, split := obs.(splitObserver)
	return func(k int) int {
		var b int
		for _, w := range widths {
			b += 4 * len(segs[k]) * w
			if split {
				b += 4*w*w + 4*w
			}
		}
		return b
	}
}

// observeSegments runs segment k's work through run(k, observer) for every
// segment, workers at a time, and shows obs what the observers saw, in
// segment order (the order-free part of a splitObserver's work done
// concurrently). With workers ≤ 1 obs sees each segment's calls directly.
// Up to workers segments run at once and are replayed in order as they
// finish (parallel.Ordered), at most 2·workers of them, and captureBudget
// bytes by segBytes (an estimate of segment k's capture), held at a time;
// the order of the replay, and so the result, does not depend on either.
func observeSegments(n int, run func(k int, o hq.Observer), obs hq.Observer, want func(string) bool, workers int, segBytes func(k int) int) {
	if workers <= 1 || n == 1 {
		for k := 0; k < n; k++ {
			run(k, obs)
		}
		return
	}
	split, _ := obs.(splitObserver)
	capt := func(k int) *capture {
		c := &capture{want: want, split: split}
		run(k, c)
		return c
	}
	replay := func(c *capture) {
		for _, call := range c.calls {
			if split != nil {
				split.commit(call.name, call.x, call.rows, call.cols, call.prepared)
			} else {
				obs.ObserveLinearInput(call.name, call.x, call.rows, call.cols)
			}
		}
	}
	caps := make([]*capture, n)
	parallel.Ordered(n, workers, 2*workers, captureBudget, segBytes,
		func(k int) { caps[k] = capt(k) },
		func(k int) { replay(caps[k]); caps[k] = nil })
	if split != nil {
		split.flush()
	}
}

// advance runs block i in place over every segment's input, segments at once.
func advance(m *hq.Model, i int, hs [][]float32, segs [][]int, workers int) {
	if workers <= 1 {
		for k := range hs {
			m.RunBlock(i, hs[k], len(segs[k]))
		}
		return
	}
	parallel.Parts(len(hs), workers, func(_, lo, hi int) {
		for k := lo; k < hi; k++ {
			m.RunBlock(i, hs[k], len(segs[k]))
		}
	})
}

// defaultWorkers is how many segments run at once by default: every CPU.
func defaultWorkers() int { return runtime.GOMAXPROCS(0) }
