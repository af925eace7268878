package gpu

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/kernels/cuda"
	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/runtime"
)

// Math is the arithmetic of the matrix products on the device.
type Math int

const (
	// MathFP32 is plain fp32 products: the parity mode (the mini's logits
	// within 2e-5 of the CPU runtime's, its perplexity within 1e-8).
	MathFP32 Math = iota
	// MathTF32 is fp32 products on TF32 tensor cores (inputs rounded to a
	// 10-bit mantissa, fp32 accumulation).
	MathTF32
	// MathBF16 is bf16 products: dense weights held in bf16, packed ones
	// dequantised to bf16, each product's input rounded to bf16, fp32
	// accumulation and outputs; attention's score and value products (not
	// weights) run in TF32. Everything between the products (norms, the
	// scan, residuals, softmax, the loss) stays fp32 as in the other modes.
	MathBF16
)

// ParseMath reads fp32, tf32 or bf16.
func ParseMath(s string) (Math, error) {
	for m := MathFP32; m <= MathBF16; m++ {
		if m.String() == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%q is not fp32, tf32 or bf16", s)
}

func (m Math) String() string {
	switch m {
	case MathFP32:
		return "fp32"
	case MathTF32:
		return "tf32"
	case MathBF16:
		return "bf16"
	}
	return fmt.Sprintf("Math(%d)", int(m))
}

// Options says how a model is held and computed on the device.
type Options struct {
	Math Math
}

// storage is how a matrix is held on the device.
type storage int

const (
	storeF32 storage = iota
	storeBF16
	storeQMatrix // kernels.QMatrix: codes, fp32 scales, byte zero points
	storeGGML    // llama.cpp blocks as stored
)

// elemBytes is the size of one value of a dense storage.
func (s storage) elemBytes() int {
	if s == storeBF16 {
		return 2
	}
	return 4
}

// suffix names the dequantisation kernels' output type.
func (s storage) suffix() string {
	if s == storeBF16 {
		return "_bf16"
	}
	return "_f32"
}

// linear is a Linear on the device: its matrix as stored there, and the
// bias (fp32).
type linear struct {
	store   storage
	w, b    cuda.Buffer // w: the dense matrix, the codes, or the blocks
	out, in int
	// desc names the storage for reports ("q4_K", "hyquant w4 g128", "bf16",
	// "f32 (dequantised on the host)").
	desc string

	scales, zeros             cuda.Buffer // storeQMatrix
	bits, rowBytes, groupSize int
	perTensor                 bool
	kernel                    string // storeGGML: the dequantisation kernel, less its suffix
	blocks                    int64
}

// ggmlKernels are the llama.cpp types dequantised on the device; others
// are dequantised on the host at upload (kernels/cuda/formats.cuh).
var ggmlKernels = map[ggml.Type]string{ggml.Q8_0: "dequant_q8_0", ggml.Q4_K: "dequant_q4_K", ggml.Q5_K: "dequant_q5_K", ggml.Q6_K: "dequant_q6_K"}

// uploader copies weights to the device for one Upload.
type uploader struct {
	g *Model
	s *cuda.Stream
}

func (u *uploader) keep(b cuda.Buffer, err error) (cuda.Buffer, error) {
	if err == nil && b.Ptr != 0 {
		u.g.bufs = append(u.g.bufs, b)
		u.g.WeightBytes += int64(b.Bytes)
	}
	return b, err
}

func (u *uploader) floats(x []float32) (cuda.Buffer, error) { return u.keep(u.s.UploadFloats(x)) }
func (u *uploader) bytes(x []byte) (cuda.Buffer, error)     { return u.keep(u.s.UploadBytes(x)) }

// bf16 uploads x rounded to bf16 (on the device, through an fp32 staging
// buffer).
func (u *uploader) bf16(x []float32) (cuda.Buffer, error) {
	tmp, err := u.s.UploadFloats(x)
	if err != nil {
		return tmp, err
	}
	defer u.s.Free(tmp)
	b, err := u.keep(u.s.Alloc(2 * len(x)))
	if err != nil {
		return b, err
	}
	if err := convert(u.s, "f32_to_bf16", b.Ptr, tmp.Ptr, len(x)); err != nil {
		return b, err
	}
	return b, u.s.Sync()
}

// linear uploads l: packed formats the device decodes stay packed, bf16
// matrices stay bf16, and anything else becomes a dense matrix (fp32, or
// bf16 under MathBF16) read off the host (HostWeights).
func (u *uploader) linear(l kernels.Linear) (linear, error) {
	r := linear{out: l.Out(), in: l.In()}
	var bias []float32
	if bb, ok := l.(interface{ Bias() []float32 }); ok {
		bias = bb.Bias()
	}
	var err error
	if bias != nil {
		if r.b, err = u.floats(bias); err != nil {
			return r, err
		}
	}
	switch t := l.(type) {
	case *kernels.QLinear:
		return r, u.qmatrix(&r, t.QMatrix())
	case *kernels.DecodedLinear:
		switch d := t.Decoder().(type) {
		case *kernels.QMatrix:
			return r, u.qmatrix(&r, d)
		case *ggml.Rows:
			if k, ok := ggmlKernels[d.Type()]; ok {
				return r, u.ggml(&r, d, k)
			}
		}
	case *kernels.BF16Dense:
		r.store, r.desc = storeBF16, "bf16"
		r.w, err = u.bytes(t.Raw()[:2*r.out*r.in])
		return r, err
	}
	if err := exactlyLinear(l); err != nil {
		return r, err
	}
	w, hostBias := HostWeights(l)
	if hostBias != nil && bias == nil {
		if r.b, err = u.floats(hostBias); err != nil {
			return r, err
		}
	}
	r.desc = "f32"
	if _, dense := l.(*kernels.Dense); !dense {
		r.desc = fmt.Sprintf("%s (dequantised on the host)", linearName(l))
	}
	if u.g.opts.Math == MathBF16 {
		r.store, r.desc = storeBF16, "bf16 (rounded from "+r.desc+")"
		r.w, err = u.bf16(w)
		return r, err
	}
	r.store = storeF32
	r.w, err = u.floats(w)
	return r, err
}

func (u *uploader) qmatrix(r *linear, q *kernels.QMatrix) error {
	if err := q.Validate(); err != nil {
		return err
	}
	r.store, r.bits, r.rowBytes, r.groupSize, r.perTensor = storeQMatrix, q.Bits, q.RowBytes(), q.GroupSize, q.PerTensor
	r.desc = fmt.Sprintf("hyquant w%d g%d", q.Bits, q.GroupSize)
	if q.PerTensor {
		r.desc = fmt.Sprintf("hyquant w%d per tensor", q.Bits)
	}
	if q.Zeros != nil {
		r.desc += " asymmetric"
	}
	var err error
	if r.w, err = u.bytes(q.Codes[:q.Rows*q.RowBytes()]); err != nil {
		return err
	}
	if r.scales, err = u.floats(q.Scales); err != nil {
		return err
	}
	if q.Zeros != nil {
		r.zeros, err = u.bytes(q.Zeros)
	}
	return err
}

func (u *uploader) ggml(r *linear, rows *ggml.Rows, kernel string) error {
	data, perm := rows.Raw()
	rb := len(data) / r.out
	if perm != nil { // store the rows in the order they are read
		p := make([]byte, len(data))
		for i, src := range perm {
			copy(p[i*rb:(i+1)*rb], data[int(src)*rb:(int(src)+1)*rb])
		}
		data = p
	}
	r.store, r.kernel, r.desc = storeGGML, kernel, rows.Type().String()
	r.blocks = int64(r.out) * int64(r.in) / int64(rows.BlockSize())
	var err error
	r.w, err = u.bytes(data)
	return err
}

// exactlyLinear refuses what HostWeights cannot read as a matrix:
// projections that fake-quantise their inputs (act_bits) are not linear
// maps, so reading them off the identity would run another model.
func exactlyLinear(l kernels.Linear) error {
	switch t := l.(type) {
	case *quant.ActQuant:
		return fmt.Errorf("gpu: a projection quantises its activations to %d bits (%s); the device does not run activation quantisation yet (use --device cpu)", t.Bits, t.Mode)
	case *quant.RotatedLinear:
		return exactlyLinear(t.Inner)
	}
	return nil
}

// linearName is a Linear's kind for reports: its block type ("q3_K") or
// its Go type ("*quant.RotatedLinear").
func linearName(l kernels.Linear) string {
	if d, ok := l.(*kernels.DecodedLinear); ok {
		if g, ok := d.Decoder().(*ggml.Rows); ok {
			return g.Type().String()
		}
	}
	return fmt.Sprintf("%T", l)
}

// convert launches an fp32↔bf16 conversion of n values.
func convert(s *cuda.Stream, kernel string, dst, src uint64, n int) error {
	return s.Launch(kernel, gridFor(n), threads, 0, cuda.P(dst), cuda.P(src), cuda.I64(n))
}

// gridFor is the grid of a grid-stride kernel over n values.
func gridFor(n int) int { return max(1, min(blocksFor(n), 1<<16)) }

// decode writes l's matrix into dst as the products take it (want: fp32 or
// bf16).
func decode(s *cuda.Stream, l *linear, want storage, dst uint64) error {
	n := l.out * l.in
	switch l.store {
	case storeF32:
		return convert(s, "f32_to_bf16", dst, l.w.Ptr, n)
	case storeBF16:
		return convert(s, "bf16_to_f32", dst, l.w.Ptr, n)
	case storeQMatrix:
		pt := 0
		if l.perTensor {
			pt = 1
		}
		return s.Launch("dequant_qmatrix"+want.suffix(), gridFor(n), threads, 0, cuda.P(dst), cuda.P(l.w.Ptr), cuda.P(l.scales.Ptr), cuda.P(l.zeros.Ptr),
			cuda.I(l.out), cuda.I(l.in), cuda.I(l.bits), cuda.I(l.rowBytes), cuda.I(l.groupSize), cuda.I(pt))
	case storeGGML:
		return s.Launch(l.kernel+want.suffix(), gridFor(n), threads, 0, cuda.P(dst), cuda.P(l.w.Ptr), cuda.I64(int(l.blocks)))
	}
	return fmt.Errorf("gpu: unknown weight storage %d", l.store)
}

// compute is the storage the products take under the model's math.
func (g *Model) compute() storage {
	if g.opts.Math == MathBF16 {
		return storeBF16
	}
	return storeF32
}

// weight returns l's matrix in the products' type: the stored matrix, or
// its decoding into the shared scratch (kept while the next product is of
// the same linear, as lm_head's chunks are).
func (g *Model) weight(s *cuda.Stream, l *linear) (uint64, error) {
	want := g.compute()
	if l.store == want {
		return l.w.Ptr, nil
	}
	sc := &g.sc
	if sc.decoded == l {
		return sc.wbuf.Ptr, nil
	}
	sc.decoded = nil                                                      // until l is decoded there
	if err := s.Grow(&sc.wbuf, l.out*l.in*want.elemBytes()); err != nil { // a replaced linear may need more
		return 0, err
	}
	if err := decode(s, l, want, sc.wbuf.Ptr); err != nil {
		return 0, err
	}
	sc.decoded = l
	return sc.wbuf.Ptr, nil
}

// apply is a Linear on the device: y = x·Wᵀ (+ bias), x and y fp32 rows.
func (g *Model) apply(s *cuda.Stream, l *linear, y, x uint64, rows int) error {
	if g.observe != nil {
		if err := g.observe(s, l, x, rows); err != nil {
			return err
		}
	}
	w, err := g.weight(s, l)
	if err != nil {
		return err
	}
	if g.opts.Math == MathBF16 {
		if err := convert(s, "f32_to_bf16", g.sc.xb.Ptr, x, rows*l.in); err != nil {
			return err
		}
		err = s.LinearRowsBF16(y, g.sc.xb.Ptr, w, rows, l.out, l.in, false)
	} else {
		err = s.LinearRows(y, x, w, rows, l.out, l.in, false)
	}
	if err != nil {
		return err
	}
	if l.b.Ptr != 0 {
		return s.Launch("add_bias", min(blocksFor(rows*l.out), 65535), threads, 0, cuda.P(y), cuda.P(l.b.Ptr), cuda.I(rows), cuda.I(l.out))
	}
	return nil
}

// linears lists every linear of the model on the device.
func (g *Model) linears() []*linear {
	var ls []*linear
	for i := range g.blocks {
		b := &g.blocks[i]
		for _, l := range []*linear{&b.inProj, &b.outProj, &b.up, &b.down, &b.q, &b.k, &b.v, &b.o} {
			if l.out > 0 {
				ls = append(ls, l)
			}
		}
	}
	return append(ls, &g.head)
}

// Storage counts the model's linears by how they are held on the device:
// "q4_K ×20, bf16 ×8".
func (g *Model) Storage() string {
	count := map[string]int{}
	for _, l := range g.linears() {
		count[l.desc]++
	}
	keys := make([]string, 0, len(count))
	for k := range count {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, count[k])
	}
	return strings.Join(parts, ", ")
}

// linearsByName maps m's projection names (runtime.LinearSlot) to their
// device copies; m is the model g was uploaded from, block for block.
func (g *Model) linearsByName(m *runtime.Model) map[string]*linear {
	out := map[string]*linear{runtime.LMHeadName: &g.head}
	for i, b := range m.Blocks {
		gb := &g.blocks[i]
		switch {
		case b.Mamba != nil:
			out[b.Mamba.InProjName], out[b.Mamba.OutProjName] = &gb.inProj, &gb.outProj
		case b.MLP != nil:
			out[b.MLP.UpName], out[b.MLP.DownName] = &gb.up, &gb.down
		case b.Attention != nil:
			a := b.Attention
			out[a.QName], out[a.KName], out[a.VName], out[a.OName] = &gb.q, &gb.k, &gb.v, &gb.o
		}
	}
	return out
}

// replace uploads l in place of dst (same shape) and frees dst's buffers.
func (g *Model) replace(dst *linear, l kernels.Linear) error {
	if l.Out() != dst.out || l.In() != dst.in {
		return fmt.Errorf("gpu: replacing a %d×%d projection with a %d×%d one", dst.out, dst.in, l.Out(), l.In())
	}
	return g.Dev.Run(func(s *cuda.Stream) error {
		u := &uploader{g: g, s: s}
		kept := len(g.bufs)
		r, err := u.linear(l)
		if err != nil { // free what it uploaded before failing
			for _, b := range g.bufs[kept:] {
				g.WeightBytes -= int64(b.Bytes)
				s.Free(b)
			}
			g.bufs = g.bufs[:kept]
			return err
		}
		old := map[uint64]bool{}
		for _, b := range []cuda.Buffer{dst.w, dst.b, dst.scales, dst.zeros} {
			if b.Ptr != 0 {
				old[b.Ptr] = true
				g.WeightBytes -= int64(b.Bytes)
				s.Free(b)
			}
		}
		live := g.bufs[:0]
		for _, b := range g.bufs {
			if !old[b.Ptr] {
				live = append(live, b)
			}
		}
		g.bufs = live
		*dst = r
		if g.sc.decoded == dst {
			g.sc.decoded = nil
		}
		return nil
	})
}
