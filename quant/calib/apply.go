package calib

import (
	"context"
	"fmt"
	"math"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/ckpt"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
)

// ApplyOptions controls Apply.
type ApplyOptions struct {
	// Segments are the calibration token windows; needed when a method needs
	// calibration, activations are statically quantised, or errors are measured.
	Segments [][]int
	// MeasureErrors computes each quantised projection's relative output
	// error on the calibration data.
	MeasureErrors bool
	// Progress is called after each quantised tensor.
	Progress func(done, total int, name string)
	// Context, when set, stops the work between tensors and blocks once
	// cancelled (Apply then returns its error).
	Context context.Context
	// Workers is how many segments run through a block at once (0: every
	// CPU). The statistics are the same, bit for bit, for any number: the
	// inputs each segment's projections see are replayed to the collector
	// in segment order.
	Workers int
	// Runner, when set, runs the calibrated pass's blocks (a GPU) instead
	// of the CPU runtime; Workers is then unused.
	Runner NewRunner
}

// workers is how many calibration segments run at once.
func (o ApplyOptions) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return defaultWorkers()
}

func (o ApplyOptions) cancelled() error {
	if o.Context == nil {
		return nil
	}
	return o.Context.Err()
}

// LayerError is one projection's relative output error on calibration data,
// ||W X − Ŵ X||² / ||W X||², where Ŵ is the layer as quantised (transform
// included) and X its calibration inputs (produced by the already
// quantised layers before it).
type LayerError struct {
	Name     string
	Category string
	Layer    int
	RelError float64
}

// Applied is a quantised model in memory.
type Applied struct {
	Model       *runtime.Model
	Weights     *ckpt.PackedWeights
	LayerErrors []LayerError
}

// Apply quantises a model under a resolved plan. Tensors whose method needs
// no calibration are quantised first, straight from the float weights; then,
// when calibration is needed, the model is run block by block over the
// calibration segments, and each projection is quantised from statistics of
// the inputs that the already-quantised layers before it produce (sequential
// quantisation, as GPTQ prescribes). float must serve the original weights.
func Apply(cfg *runtime.Config, float runtime.WeightSource, r *plan.Resolved, o ApplyOptions) (*Applied, error) {
	pw := &ckpt.PackedWeights{Float: float, Results: map[string]*quant.Quantized{}, Specs: map[string]quant.Spec{}, ActScales: map[string]float32{}}
	var later []quant.Assignment // projections quantised in the calibrated pass
	total, done := 0, 0
	for _, a := range r.Assignments {
		pw.Specs[a.Param.Name] = a.Spec
		if !a.Spec.Keep {
			total++
		}
	}
	needPass := o.MeasureErrors
	for _, a := range r.Assignments {
		if a.Spec.Keep {
			continue
		}
		calibrated := a.NeedsCalibration()
		if a.Param.Matrix && (calibrated || o.MeasureErrors) && a.Param.Category != runtime.Embedding {
			later = append(later, a)
			needPass = needPass || calibrated
			continue
		}
		if err := o.cancelled(); err != nil {
			return nil, err
		}
		if calibrated {
			return nil, fmt.Errorf("%s: method %s needs calibration but %s is not a linear layer", a.Param.Name, a.Spec.Method, a.Param.Category)
		}
		q, err := quantizeOne(float, a, nil)
		if err != nil {
			return nil, err
		}
		pw.Results[a.Param.Name] = q
		done++
		if o.Progress != nil {
			o.Progress(done, total, a.Param.Name)
		}
	}
	model, err := runtime.LoadModel(cfg, pw)
	if err != nil {
		return nil, err
	}
	applied := &Applied{Model: model, Weights: pw}
	if len(later) == 0 {
		return applied, nil
	}
	if needPass && len(o.Segments) == 0 {
		return nil, fmt.Errorf("the plan needs calibration data (GPTQ, KLT rotations, smoothing, static activation scales or error measurement) but no segments were given")
	}
	pending := map[string]quant.Assignment{}
	for _, a := range later {
		pending[a.Param.Name] = a
	}
	s := &sequential{model: model, float: float, pw: pw, pending: pending, applied: applied, opts: o, done: &done, total: total}
	if err := s.run(); err != nil {
		return nil, err
	}
	return applied, nil
}

// quantizeOne reads a tensor's float weights and quantises it.
func quantizeOne(float runtime.WeightSource, a quant.Assignment, st *quant.Stats) (*quant.Quantized, error) {
	w, err := float.Float32(a.Param.Name, a.Param.Shape...)
	if err != nil {
		return nil, err
	}
	m, _ := quant.Lookup(a.Spec.Method)
	q, err := m.Quantize(w, a, st)
	if err != nil {
		return nil, fmt.Errorf("quantising %s with %s: %w", a.Param.Name, a.Spec.Method, err)
	}
	return q, nil
}

// sequential runs the calibrated pass: block inputs for every calibration
// segment are cached, each block is re-run once per group of projections
// that share an input, and the next block's inputs are produced by the
// block once all of its projections are quantised.
type sequential struct {
	model   *runtime.Model
	float   runtime.WeightSource
	pw      *ckpt.PackedWeights
	pending map[string]quant.Assignment
	applied *Applied
	opts    ApplyOptions
	done    *int
	total   int
}

func (s *sequential) run() error {
	if s.opts.Runner != nil {
		r, err := s.opts.Runner(s.model, s.opts.Segments)
		if err != nil {
			return err
		}
		defer r.Close()
		return s.runOn(r)
	}
	segs := s.opts.Segments
	hs := make([][]float32, len(segs))
	for i, seg := range segs {
		h, err := s.model.EmbedTokens(seg)
		if err != nil {
			return fmt.Errorf("calibration segment %d: %w", i, err)
		}
		hs[i] = h
	}
	byLayer := slotsByLayer(s.model)
	d := s.model.Config.HiddenSize
	// A block's quantised layers run over every segment, each of which
	// would decode their packed weights again: for the rest of the block
	// they are decoded once (the same products bit for bit), and the
	// packed layers are put back once the block is done.
	var held []runtime.LinearSlot
	var packed []kernels.Linear
	predecode := func(group []runtime.LinearSlot) {
		for _, sl := range group {
			if l, ok := (*sl.Ptr).(*kernels.DecodedLinear); ok {
				held, packed = append(held, sl), append(packed, l)
				*sl.Ptr = l.Predecoded()
			}
		}
	}
	restore := func() {
		for k, sl := range held {
			*sl.Ptr = packed[k]
		}
		held, packed = held[:0], packed[:0]
	}
	for i := range s.model.Blocks {
		if err := s.opts.cancelled(); err != nil {
			return err
		}
		groups, groupNames := s.pendingGroups(byLayer[i])
		for gi, group := range groups {
			names := groupNames[gi]
			block := i
			want := map[string]bool{}
			for _, n := range names {
				want[n] = true
			}
			observe := func(obs runtime.Observer) {
				observeBlock(s.model, block, hs, segs, obs, func(name string) bool { return want[name] }, s.opts.workers())
			}
			col := NewCollector(names...)
			observe(col)
			if err := s.quantizeGroup(group, col, observe); err != nil {
				restore()
				return err
			}
			predecode(group)
		}
		advance(s.model, i, hs, segs, s.opts.workers())
		restore()
	}
	// lm_head sees norm_f of the last block's output.
	for _, sl := range byLayer[-1] {
		if _, ok := s.pending[sl.Name]; !ok {
			continue
		}
		name := sl.Name
		observe := func(obs runtime.Observer) {
			observeSegments(len(hs), func(k int, o runtime.Observer) {
				n := len(segs[k])
				o.ObserveLinearInput(name, s.model.FinalNorm(hs[k], n), n, d)
			}, obs, func(n string) bool { return n == name }, s.opts.workers(), captureBytes([]int{d}, segs, obs))
		}
		col := NewCollector(name)
		observe(col)
		if err := s.quantizeGroup([]runtime.LinearSlot{sl}, col, observe); err != nil {
			return err
		}
	}
	return nil
}

// slotsByLayer groups a model's projections by layer (lm_head's is -1).
func slotsByLayer(m *runtime.Model) map[int][]runtime.LinearSlot {
	byLayer := map[int][]runtime.LinearSlot{}
	for _, sl := range m.Linears() {
		byLayer[sl.Layer] = append(byLayer[sl.Layer], sl)
	}
	return byLayer
}

// pendingGroups are the input groups of a layer's projections that still
// have some to quantise, with those projections' names.
func (s *sequential) pendingGroups(slots []runtime.LinearSlot) (groups [][]runtime.LinearSlot, names [][]string) {
	for _, group := range inputGroups(slots) {
		if n := s.pendingNames(group); len(n) > 0 {
			groups, names = append(groups, group), append(names, n)
		}
	}
	return groups, names
}

func (s *sequential) pendingNames(group []runtime.LinearSlot) []string {
	var names []string
	for _, sl := range group {
		if _, ok := s.pending[sl.Name]; ok {
			names = append(names, sl.Name)
		}
	}
	return names
}

// inputGroups splits a block's projections into groups that read the same
// input, in forward order: q/k/v share theirs; every other projection is alone.
func inputGroups(slots []runtime.LinearSlot) [][]runtime.LinearSlot {
	var out [][]runtime.LinearSlot
	for _, sl := range slots {
		if n := len(out); n > 0 && sharesInput(out[n-1][0].Category, sl.Category) {
			out[n-1] = append(out[n-1], sl)
			continue
		}
		out = append(out, []runtime.LinearSlot{sl})
	}
	return out
}

func sharesInput(a, b runtime.Category) bool {
	qkv := func(c runtime.Category) bool { return c == runtime.AttnQ || c == runtime.AttnK || c == runtime.AttnV }
	return qkv(a) && qkv(b)
}

// quantizeGroup quantises the pending projections of a group from the
// statistics col gathered, measures their errors, and swaps them into the
// model. observe re-runs the group's calibration inputs through an
// observer: static activation scales of rotated layers are measured on the
// transformed inputs, which needs the transform first.
func (s *sequential) quantizeGroup(group []runtime.LinearSlot, col *Collector, observe func(runtime.Observer)) error {
	type item struct {
		slot runtime.LinearSlot
		a    quant.Assignment
		q    *quant.Quantized
		st   *quant.Stats
	}
	var items []item
	rotatedAct := &transformedAbsMax{transforms: map[string]*quant.Transform{}, absMax: map[string]float32{}}
	for _, sl := range group {
		a, ok := s.pending[sl.Name]
		if !ok {
			continue
		}
		st := col.Stats[sl.Name]
		if st == nil {
			return fmt.Errorf("no calibration inputs reached %s", sl.Name)
		}
		var use *quant.Stats
		if m, _ := quant.Lookup(a.Spec.Method); m.NeedsCalibration(a.Spec) {
			use = st
		}
		q, err := quantizeOne(s.float, a, use)
		if err != nil {
			return err
		}
		if a.Spec.ActBits > 0 && a.Spec.ActMode == quant.ActPerTensor {
			if q.Transform == nil {
				s.pw.ActScales[a.Param.Name] = quant.StaticActScale(st, a.Spec.ActBits)
			} else {
				rotatedAct.transforms[a.Param.Name] = q.Transform
			}
		}
		items = append(items, item{sl, a, q, st})
	}
	if len(rotatedAct.transforms) > 0 {
		observe(rotatedAct)
		for name, m := range rotatedAct.absMax {
			s.pw.ActScales[name] = m / float32(int(1)<<(s.pending[name].Spec.ActBits-1)-1)
		}
	}
	for _, it := range items {
		name := it.a.Param.Name
		s.pw.Results[name] = it.q
		var bias []float32
		if old, ok := (*it.slot.Ptr).(interface{ Bias() []float32 }); ok {
			bias = old.Bias()
		}
		if s.opts.MeasureErrors {
			w, err := s.float.Float32(name, it.a.Param.Shape...)
			if err != nil {
				return err
			}
			weightOnly, err := it.q.Linear(quant.Spec{}, 0, nil)
			if err != nil {
				return err
			}
			e, err := relativeError(w, weightOnly, it.st)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			s.applied.LayerErrors = append(s.applied.LayerErrors, LayerError{Name: name, Category: string(it.a.Param.Category), Layer: it.a.Param.Layer, RelError: e})
		}
		lin, err := it.q.Linear(it.a.Spec, s.pw.ActScales[name], bias)
		if err != nil {
			return err
		}
		*it.slot.Ptr = lin
		delete(s.pending, name)
		*s.done++
		if s.opts.Progress != nil {
			s.opts.Progress(*s.done, s.total, name)
		}
	}
	return nil
}

// transformedAbsMax records max |T(x)| of the inputs of rotated layers.
type transformedAbsMax struct {
	transforms map[string]*quant.Transform
	absMax     map[string]float32
}

func (t *transformedAbsMax) ObserveLinearInput(name string, x []float32, rows, cols int) {
	tr, ok := t.transforms[name]
	if !ok {
		return
	}
	y := make([]float32, len(x))
	tr.Apply(y, x, rows, cols)
	m := t.absMax[name]
	for _, v := range y {
		m = max(m, float32(math.Abs(float64(v))))
	}
	t.absMax[name] = m
}

// relativeError computes tr(E·XᵀX·Eᵀ) / tr(W·XᵀX·Wᵀ) with E = W − Ŵ, where Ŵ
// is the effective float matrix of the quantised layer (weights and input
// transform; activation quantisation left out), found by applying it to the
// identity. The traces run as float32 matrix products (their relative
// rounding, ~1e-6, is far below any quantisation error).
func relativeError(w []float32, lin kernels.Linear, st *quant.Stats) (float64, error) {
	rows, cols := lin.Out(), lin.In()
	eye := make([]float32, cols*cols)
	for i := 0; i < cols; i++ {
		eye[i*cols+i] = 1
	}
	effT := make([]float32, cols*rows) // row i = Ŵ·e_i: Ŵ transposed
	lin.Apply(effT, eye, cols)
	e := make([]float32, rows*cols)
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			e[r*cols+c] = w[r*cols+c] - effT[c*rows+r]
		}
	}
	g := make([]float32, cols*cols)
	for i, v := range st.XtX {
		g[i] = float32(v)
	}
	num, den := traceForm(e, g, rows, cols), traceForm(w, g, rows, cols)
	if den == 0 {
		return 0, nil
	}
	if math.IsNaN(num / den) {
		return 0, fmt.Errorf("relative error is NaN")
	}
	return num / den, nil
}

// traceForm returns tr(A·G·Aᵀ) for A rows×cols and symmetric G cols×cols.
func traceForm(a, g []float32, rows, cols int) float64 {
	ag := make([]float32, rows*cols)
	kernels.MatMulNT(ag, a, g, rows, cols, cols) // G symmetric: A·Gᵀ = A·G
	var s float64
	for i, v := range a {
		s += float64(v) * float64(ag[i])
	}
	return s
}
