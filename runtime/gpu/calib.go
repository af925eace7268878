package gpu

import (
	"errors"
	"fmt"

	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/kernels/cuda"
	"github.com/hyquant/hyquant/runtime"
)

// Pass is a calibrated pass on the device (quant/calib's sequential
// quantisation): the hidden states of every calibration segment stay on
// the device, blocks run over them in batches, and the inputs of the
// projections asked about are reduced there to the sums quant.Stats holds
// (XᵀX, per-column sums and absolute maxima). Only those sums come back to
// the host; quantised projections go to the device with Replace.
type Pass struct {
	g              *Model
	h              cuda.Buffer // segments × n × hidden
	segs, n, batch int
	names          map[string]*linear
	observed       map[*linear]*accumulator // during Observe
	seen           map[*linear]bool         // observed in the current batch
}

// errObservedAll stops a block's run in Observe once every observed
// projection has seen its input: the rest of the block would be computed
// for nothing (the states are not kept). Up to half of a calibrated
// pass's device time, where the observed projection comes first.
var errObservedAll = errors.New("gpu: every observed projection has seen its input")

// InputStats are one projection's input statistics over the segments:
// XtX is Cols×Cols row-major Σ x·xᵀ, Sum Σ x, AbsMax max |x| per column.
type InputStats struct {
	Rows   int64
	Cols   int
	XtX    []float64
	Sum    []float64
	AbsMax []float32
}

// accumulator is an InputStats on the device, with the float32 gram of
// one segment (Σ over its rows in fp32, as the CPU's Collector takes it,
// then added to the float64 sums).
type accumulator struct {
	xtx, sum, absMax, gram cuda.Buffer
	cols                   int
	rows                   int64
}

// NewPass embeds the segments (all of one length) on the device. m is the
// model g was uploaded from (it names the projections).
func NewPass(g *Model, m *runtime.Model, segs [][]int) (*Pass, error) {
	if len(segs) == 0 {
		return nil, fmt.Errorf("gpu: calibration pass over no segments")
	}
	n := len(segs[0])
	for i, sg := range segs {
		if len(sg) != n {
			return nil, fmt.Errorf("gpu: calibration segments of %d and %d tokens (segment %d): the device pass needs one length", n, len(sg), i)
		}
	}
	p := &Pass{g: g, segs: len(segs), n: n, batch: max(1, min(len(segs), BatchRows/n)), names: g.linearsByName(m)}
	d := g.Config.HiddenSize
	err := g.Dev.Run(func(s *cuda.Stream) error {
		var err error
		if p.h, err = s.Alloc(4 * len(segs) * n * d); err != nil {
			return err
		}
		if err := g.ensure(s, p.batch, n); err != nil {
			return err
		}
		for k0 := 0; k0 < len(segs); k0 += p.batch {
			k1 := min(len(segs), k0+p.batch)
			var ids []int
			for _, sg := range segs[k0:k1] {
				ids = append(ids, sg...)
			}
			if err := g.embedIDs(s, ids, len(ids)); err != nil {
				return fmt.Errorf("calibration segments %d-%d: %w", k0, k1-1, err)
			}
			if err := s.Copy(p.h.Float(k0*n*d), g.sc.h.Ptr, 4*len(ids)*d); err != nil {
				return err
			}
		}
		return s.Sync()
	})
	if err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// BatchRows is how many tokens go through the device at once: windows are
// batched up to this many rows (at least one window).
const BatchRows = 32768

// Close frees the segments' states (the model stays).
func (p *Pass) Close() {
	p.g.Dev.Run(func(s *cuda.Stream) error {
		s.Free(p.h)
		return nil
	})
	p.h = cuda.Buffer{}
}

// eachBatch copies each batch of segments' states into the scratch, calls
// run(rows of the batch, its first segment), and with keep copies the
// result back.
func (p *Pass) eachBatch(s *cuda.Stream, keep bool, run func(batch, k0 int) error) error {
	if err := p.g.ensure(s, p.batch, p.n); err != nil {
		return err
	}
	d := p.g.Config.HiddenSize
	for k0 := 0; k0 < p.segs; k0 += p.batch {
		b := min(p.batch, p.segs-k0)
		bytes := 4 * b * p.n * d
		if err := s.Copy(p.g.sc.h.Ptr, p.h.Float(k0*p.n*d), bytes); err != nil {
			return err
		}
		if err := run(b, k0); err != nil {
			return err
		}
		if keep {
			if err := s.Copy(p.h.Float(k0*p.n*d), p.g.sc.h.Ptr, bytes); err != nil {
				return err
			}
		}
	}
	return nil
}

// Advance runs block i over every segment, in place.
func (p *Pass) Advance(i int) error {
	return p.g.Dev.Run(func(s *cuda.Stream) error {
		if err := p.g.setMath(s); err != nil {
			return err
		}
		return p.eachBatch(s, true, func(b, _ int) error { return p.g.runBlock(s, i, b, p.n) })
	})
}

// Observe runs block i over every segment (not in place) and returns the
// input statistics of the named projections; block -1 is lm_head, whose
// input is norm_f of the last block's output.
func (p *Pass) Observe(i int, names []string) (map[string]*InputStats, error) {
	g := p.g
	p.observed = map[*linear]*accumulator{}
	byLinear := map[*linear]string{}
	out := map[string]*InputStats{}
	err := g.Dev.Run(func(s *cuda.Stream) error {
		defer p.freeAccumulators(s)
		for _, name := range names {
			l := p.names[name]
			if l == nil {
				return fmt.Errorf("gpu: no projection %s on the device", name)
			}
			if p.observed[l] != nil { // asked twice
				continue
			}
			a, err := newAccumulator(s, l.in)
			if err != nil {
				return err
			}
			p.observed[l], byLinear[l] = a, name
		}
		if err := g.setMath(s); err != nil {
			return err
		}
		g.observe = p.accumulate
		defer func() { g.observe = nil }()
		err := p.eachBatch(s, false, func(b, _ int) error {
			p.seen = map[*linear]bool{}
			err := p.observeBatch(s, i, b)
			if errors.Is(err, errObservedAll) {
				return nil
			}
			return err
		})
		if err != nil {
			return err
		}
		for l, a := range p.observed {
			st, err := a.download(s)
			if err != nil {
				return err
			}
			out[byLinear[l]] = st
		}
		return nil
	})
	p.observed = nil
	return out, err
}

// observeBatch runs block i (-1: norm_f for lm_head) over the batch's b
// segments in the scratch, the observed projections accumulating their
// inputs; it ends with errObservedAll once all of them have.
func (p *Pass) observeBatch(s *cuda.Stream, i, b int) error {
	g := p.g
	if i >= 0 {
		return g.runBlock(s, i, b, p.n)
	}
	rows := b * p.n
	if err := g.finalNorm(s, rows); err != nil {
		return err
	}
	return p.accumulate(s, &g.head, g.sc.normed.Ptr, rows)
}

// accumulate adds the inputs x (rows of the current batch, whole segments)
// of l to its statistics when l is observed. The grams are plain fp32
// products (never TF32), one per segment.
func (p *Pass) accumulate(s *cuda.Stream, l *linear, x uint64, rows int) error {
	a := p.observed[l]
	if a == nil {
		return nil
	}
	if err := s.SetTF32(false); err != nil {
		return err
	}
	c := a.cols
	for r0 := 0; r0 < rows; r0 += p.n {
		// The segment's rows×c inputs are column-major c×rows; their gram
		// is symmetric, so one triangle is computed (half the flops of a
		// gemm) and the other, zero in gram, is filled in at download.
		seg := x + uint64(4*r0*c)
		if err := s.Ssyrk(cuda.Lower, cuda.NoTrans, c, p.n, 1, seg, c, 0, a.gram.Ptr, c); err != nil {
			return err
		}
		if err := s.Launch("add_f64", gridFor(c*c), threads, 0, cuda.P(a.xtx.Ptr), cuda.P(a.gram.Ptr), cuda.I64(c*c)); err != nil {
			return err
		}
	}
	if err := s.Launch("column_stats", blocksFor(c), threads, 0, cuda.P(a.sum.Ptr), cuda.P(a.absMax.Ptr), cuda.P(x), cuda.I(rows), cuda.I(c)); err != nil {
		return err
	}
	a.rows += int64(rows)
	if err := p.g.setMath(s); err != nil {
		return err
	}
	p.seen[l] = true
	if len(p.seen) == len(p.observed) {
		return errObservedAll
	}
	return nil
}

func newAccumulator(s *cuda.Stream, cols int) (*accumulator, error) {
	a := &accumulator{cols: cols}
	var err error
	for _, b := range []struct {
		dst   *cuda.Buffer
		bytes int
	}{{&a.xtx, 8 * cols * cols}, {&a.gram, 4 * cols * cols}, {&a.sum, 8 * cols}, {&a.absMax, 4 * cols}} {
		if *b.dst, err = s.Alloc(b.bytes); err != nil {
			a.free(s)
			return nil, err
		}
		if err := s.Zero(b.dst.Ptr, b.bytes/4); err != nil {
			a.free(s)
			return nil, err
		}
	}
	return a, nil
}

func (a *accumulator) free(s *cuda.Stream) {
	for _, b := range []cuda.Buffer{a.xtx, a.gram, a.sum, a.absMax} {
		s.Free(b)
	}
}

func (p *Pass) freeAccumulators(s *cuda.Stream) {
	for _, a := range p.observed {
		a.free(s)
	}
}

func (a *accumulator) download(s *cuda.Stream) (*InputStats, error) {
	st := &InputStats{Rows: a.rows, Cols: a.cols, XtX: make([]float64, a.cols*a.cols), Sum: make([]float64, a.cols), AbsMax: make([]float32, a.cols)}
	if err := s.CopyFloat64sOut(st.XtX, a.xtx); err != nil {
		return nil, err
	}
	mirrorUpper(st.XtX, a.cols)
	if err := s.CopyFloat64sOut(st.Sum, a.sum); err != nil {
		return nil, err
	}
	return st, s.CopyFloatsOut(st.AbsMax, a.absMax, 0)
}

// mirrorUpper copies the upper triangle of the row-major n×n x to its
// lower one. (The column-major lower triangle cuBLAS's Ssyrk writes is the
// row-major upper one.)
func mirrorUpper(x []float64, n int) {
	const tile = 64 // square tiles, so both the reads and the writes stay in cache
	tiles := (n + tile - 1) / tile
	parallel.For(tiles, 1, func(lo, hi int) {
		for bi := lo; bi < hi; bi++ {
			r0, r1 := bi*tile, min(n, (bi+1)*tile)
			for c0 := 0; c0 < r1; c0 += tile {
				for c := c0; c < min(c0+tile, r1); c++ {
					src := x[c*n : (c+1)*n]
					for r := max(r0, c+1); r < r1; r++ {
						x[r*n+c] = src[r]
					}
				}
			}
		}
	})
}

// Replace puts l on the device in place of the projection name (a
// quantised layer after its calibration).
func (p *Pass) Replace(name string, l kernels.Linear) error {
	dst := p.names[name]
	if dst == nil {
		return fmt.Errorf("gpu: no projection %s on the device", name)
	}
	return p.g.replace(dst, l)
}
