// Package gpu runs a runtime.Model's forward pass on a CUDA device
// (kernels/cuda): the weights are uploaded once as fp32, and a batch of
// windows goes through embedding, every block, norm_f, lm_head and the
// log-softmax NLL on the device; only token ids go in and per-token losses
// (or logits) come out.
//
// The orchestration here mirrors runtime's Mamba2Mixer.forward, MLP.forward
// and Attention.forward step for step; README.md in kernels/cuda says how it
// becomes the shared backend seam.
package gpu

import (
	"fmt"
	"math"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/kernels/cuda"
	"github.com/hyquant/hyquant/runtime"
)

// Model is a runtime.Model resident on a device. Its methods are safe to
// call from several goroutines; they run one at a time.
type Model struct {
	Dev    *cuda.Device
	Config *runtime.Config

	// WeightBytes is the device memory the weights take.
	WeightBytes int64

	embed  cuda.Buffer
	blocks []block
	normF  cuda.Buffer
	head   linear
	bufs   []cuda.Buffer // every weight buffer, for Close

	opts Options
	sc   scratch

	// observe, when set, sees every product's input before the product
	// (a calibration Pass).
	observe func(s *cuda.Stream, l *linear, x uint64, rows int) error

	// ScanPerChannel selects the simpler selective-scan kernel (one warp
	// per channel) over the default four-channel one, for comparisons.
	ScanPerChannel bool
}

type block struct {
	kind runtime.LayerKind
	norm cuda.Buffer

	mamba                                 *runtime.Mamba2Mixer
	inProj, outProj                       linear
	convT, convBias, dtBias, a, d, gnormW cuda.Buffer

	mlp      *runtime.MLP
	up, down linear

	attn       *runtime.Attention
	q, k, v, o linear
}

// Upload copies m's weights to dev, held as opts says: packed formats the
// device decodes (hyquant's QMatrix, llama.cpp's Q8_0, Q4_K, Q5_K, Q6_K)
// stay packed and are dequantised there for each product; bf16 matrices stay
// bf16; any other Linear (rotated, other block types, ...) is dequantised
// on the host first (see HostWeights). Under MathBF16 dense fp32 matrices
// are rounded to bf16.
func Upload(dev *cuda.Device, m *runtime.Model, opts Options) (*Model, error) {
	g := &Model{Dev: dev, Config: m.Config, opts: opts}
	err := dev.Run(func(s *cuda.Stream) error {
		u := &uploader{g: g, s: s}
		up, lin := u.floats, u.linear
		table, err := embeddingTable(m)
		if err != nil {
			return err
		}
		if g.embed, err = up(table); err != nil {
			return err
		}
		for _, b := range m.Blocks {
			gb := block{kind: b.Kind}
			if gb.norm, err = up(b.NormW); err != nil {
				return err
			}
			switch {
			case b.Mamba != nil:
				mm := b.Mamba
				gb.mamba = mm
				if gb.inProj, err = lin(mm.InProj); err != nil {
					return err
				}
				if gb.outProj, err = lin(mm.OutProj); err != nil {
					return err
				}
				for _, p := range []struct {
					dst *cuda.Buffer
					src []float32
				}{{&gb.convT, mm.ConvT}, {&gb.convBias, mm.ConvBias}, {&gb.dtBias, mm.DtBias}, {&gb.a, mm.A}, {&gb.d, mm.D}, {&gb.gnormW, mm.NormW}} {
					if *p.dst, err = up(p.src); err != nil {
						return err
					}
				}
			case b.MLP != nil:
				gb.mlp = b.MLP
				if b.MLP.Activation != "relu2" && b.MLP.Activation != "silu" {
					return fmt.Errorf("gpu: block %d: MLP activation %q is not supported", b.Index, b.MLP.Activation)
				}
				if gb.up, err = lin(b.MLP.Up); err != nil {
					return err
				}
				if gb.down, err = lin(b.MLP.Down); err != nil {
					return err
				}
			case b.Attention != nil:
				a := b.Attention
				gb.attn = a
				if a.HeadDim > 128 || a.Heads%a.KVHeads != 0 {
					return fmt.Errorf("gpu: block %d: attention with %d heads of %d over %d KV heads is not supported", b.Index, a.Heads, a.HeadDim, a.KVHeads)
				}
				for _, p := range []struct {
					dst *linear
					src kernels.Linear
				}{{&gb.q, a.Q}, {&gb.k, a.K}, {&gb.v, a.V}, {&gb.o, a.O}} {
					if *p.dst, err = lin(p.src); err != nil {
						return err
					}
				}
			default:
				return fmt.Errorf("gpu: block %d: %s layers are not supported", b.Index, b.Kind)
			}
			if gb.mamba != nil && (gb.mamba.State > 256 || gb.mamba.Heads%gb.mamba.Groups != 0) {
				return fmt.Errorf("gpu: block %d: Mamba2 state size %d (at most 256) or %d heads in %d groups not supported", b.Index, gb.mamba.State, gb.mamba.Heads, gb.mamba.Groups)
			}
			g.blocks = append(g.blocks, gb)
		}
		if g.normF, err = up(m.NormF); err != nil {
			return err
		}
		g.head, err = lin(m.LMHead)
		return err
	})
	if err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// Close frees the device memory (the Device stays open).
func (g *Model) Close() {
	g.Dev.Run(func(s *cuda.Stream) error {
		for _, b := range g.bufs {
			s.Free(b)
		}
		g.sc.free(s)
		return nil
	})
	g.bufs = nil
}

// embeddingTable returns the vocab×hidden table of m.Embed.
func embeddingTable(m *runtime.Model) ([]float32, error) {
	V, d := m.Config.VocabSize, m.Config.HiddenSize
	if e, ok := m.Embed.(*runtime.DenseEmbedding); ok && len(e.Table) >= V*d {
		return e.Table[:V*d], nil
	}
	t := make([]float32, V*d)
	for id := 0; id < V; id++ {
		m.Embed.Row(t[id*d:(id+1)*d], id)
	}
	return t, nil
}

// HostWeights returns a Linear's out×in weight matrix and bias as fp32:
// the stored slice of a kernels.Dense, the dequantised matrix of a QLinear
// or of a type with Dequantize, and otherwise the matrix read off Apply on the identity
// (exact for any linear map without bias: each output is one weight times
// 1 plus zeros; with a bias, the bias is taken as Apply on zero and
// subtracted).
func HostWeights(l kernels.Linear) (w, bias []float32) {
	out, in := l.Out(), l.In()
	var b []float32
	if bb, ok := l.(interface{ Bias() []float32 }); ok {
		b = bb.Bias()
	}
	switch t := l.(type) {
	case *kernels.Dense:
		return t.Weights()[:out*in], b
	case *kernels.QLinear:
		return t.QMatrix().Dequantize(), b
	case interface{ Dequantize() []float32 }:
		return t.Dequantize(), b
	}
	w = make([]float32, out*in)
	const chunk = 64
	x := make([]float32, chunk*in)
	y := make([]float32, chunk*out)
	zero := make([]float32, out)
	l.Apply(zero, make([]float32, in), 1)
	hasBias := false
	for _, v := range zero {
		if v != 0 {
			hasBias = true
		}
	}
	for i0 := 0; i0 < in; i0 += chunk {
		c := min(chunk, in-i0)
		clear(x)
		for r := 0; r < c; r++ {
			x[r*in+i0+r] = 1
		}
		l.Apply(y, x, c)
		for r := 0; r < c; r++ {
			for o := 0; o < out; o++ {
				v := y[r*out+o]
				if hasBias {
					v -= zero[o]
				}
				w[o*in+i0+r] = v
			}
		}
	}
	if hasBias {
		return w, zero
	}
	return w, nil
}

// scratch is the activations of one batch, kept between calls and grown
// when a larger batch comes.
type scratch struct {
	rows, batch, n                                          int
	h, normed, mix, proj, xbc, dt, dA, y, mlp, q, k, v, ctx cuda.Buffer
	scores, logits, nll, ids, targets                       cuda.Buffer
	logitRows                                               int

	// xb is a product's input in bf16 (MathBF16); wbuf a matrix decoded
	// into the products' type, the one of decoded.
	xb, wbuf cuda.Buffer
	decoded  *linear
}

func (sc *scratch) free(s *cuda.Stream) {
	for _, b := range []cuda.Buffer{sc.h, sc.normed, sc.mix, sc.proj, sc.xbc, sc.dt, sc.dA, sc.y, sc.mlp, sc.q, sc.k, sc.v, sc.ctx, sc.scores, sc.logits, sc.nll, sc.ids, sc.targets, sc.xb, sc.wbuf} {
		s.Free(b)
	}
	*sc = scratch{}
}

// logitBytes bounds the logits held at once.
const logitBytes = 512 << 20

func (g *Model) ensure(s *cuda.Stream, batch, n int) error {
	rows := batch * n
	if g.sc.rows >= rows && g.sc.n == n && g.sc.batch >= batch {
		return nil
	}
	g.sc.free(s)
	c := g.Config
	d, V := c.HiddenSize, c.VocabSize
	maxOf := func(f func(b *block) int) int {
		m := 0
		for i := range g.blocks {
			m = max(m, f(&g.blocks[i]))
		}
		return m
	}
	pw := maxOf(func(b *block) int { return b.inProj.out })
	cd := maxOf(func(b *block) int {
		if b.mamba == nil {
			return 0
		}
		return b.mamba.Heads*b.mamba.HeadDim + 2*b.mamba.Groups*b.mamba.State
	})
	H := maxOf(func(b *block) int {
		if b.mamba == nil {
			return 0
		}
		return b.mamba.Heads
	})
	I := maxOf(func(b *block) int { return b.outProj.in })
	inter := maxOf(func(b *block) int { return b.up.out })
	qw := maxOf(func(b *block) int { return b.q.out })
	kvw := maxOf(func(b *block) int { return b.k.out })
	hasAttn := qw > 0
	sc := &g.sc
	sc.rows, sc.batch, sc.n = rows, batch, n
	sc.logitRows = max(1, min(rows, logitBytes/(4*V)))
	var err error
	alloc := func(dst *cuda.Buffer, floats int) {
		if err == nil && floats > 0 {
			*dst, err = s.Alloc(4 * floats)
		}
	}
	alloc(&sc.h, rows*d)
	alloc(&sc.normed, rows*d)
	alloc(&sc.mix, rows*d)
	alloc(&sc.proj, rows*pw)
	alloc(&sc.xbc, rows*cd)
	alloc(&sc.dt, rows*H)
	alloc(&sc.dA, rows*H)
	alloc(&sc.y, rows*I)
	alloc(&sc.mlp, rows*inter)
	alloc(&sc.q, rows*qw)
	alloc(&sc.k, rows*kvw)
	alloc(&sc.v, rows*kvw)
	alloc(&sc.ctx, rows*qw)
	if hasAttn {
		alloc(&sc.scores, batch*n*n)
	}
	alloc(&sc.logits, sc.logitRows*V)
	alloc(&sc.nll, 2*rows) // float64s
	alloc(&sc.ids, rows)
	alloc(&sc.targets, rows)
	maxIn, decoded := 0, 0
	want := g.compute()
	for _, l := range g.linears() {
		maxIn = max(maxIn, l.in)
		if l.store != want {
			decoded = max(decoded, l.out*l.in*want.elemBytes())
		}
	}
	if want == storeBF16 {
		alloc(&sc.xb, (rows*maxIn+1)/2)
	}
	alloc(&sc.wbuf, (decoded+3)/4)
	if err != nil {
		sc.free(s)
	}
	return err
}

const threads = 256

func blocksFor(n int) int { return (n + threads - 1) / threads }

// forward embeds ids (batch windows of n tokens, laid end to end) and runs
// every block, leaving the last block's output in sc.h; hook, when set,
// sees the hidden state entering each block and the last block's output.
func (g *Model) forward(s *cuda.Stream, ids []int, batch, n int, hook func(layer int) error) error {
	if err := g.ensure(s, batch, n); err != nil {
		return err
	}
	if err := g.setMath(s); err != nil {
		return err
	}
	if err := g.embedIDs(s, ids, batch*n); err != nil {
		return err
	}
	for i := range g.blocks {
		if hook != nil {
			if err := hook(i); err != nil {
				return err
			}
		}
		if err := g.runBlock(s, i, batch, n); err != nil {
			return err
		}
	}
	if hook != nil {
		return hook(len(g.blocks))
	}
	return nil
}

// runBlock is RunBlock: block i over the batch in sc.h, in place.
func (g *Model) runBlock(s *cuda.Stream, i, batch, n int) error {
	c, sc := g.Config, &g.sc
	rows, d := batch*n, c.HiddenSize
	b := &g.blocks[i]
	if err := s.Launch("rmsnorm", rows, threads, 0, cuda.P(sc.normed.Ptr), cuda.P(sc.h.Ptr), cuda.P(b.norm.Ptr), cuda.I(rows), cuda.I(d), cuda.F64(c.NormEps)); err != nil {
		return err
	}
	var err error
	switch {
	case b.mamba != nil:
		err = g.mamba(s, b, batch, n)
	case b.mlp != nil:
		err = g.mlpForward(s, b, rows)
	case b.attn != nil:
		err = g.attention(s, b, batch, n)
	}
	if err != nil {
		return fmt.Errorf("block %d: %w", i, err)
	}
	return s.Launch("add_inplace", min(blocksFor(rows*d), 65535), threads, 0, cuda.P(sc.h.Ptr), cuda.P(sc.mix.Ptr), cuda.I64(rows*d))
}

// setMath sets cuBLAS's fp32 products to the model's math: TF32 for
// MathTF32, and for MathBF16's attention products.
func (g *Model) setMath(s *cuda.Stream) error { return s.SetTF32(g.opts.Math != MathFP32) }

// embedIDs writes the embeddings of ids[:rows] into sc.h.
func (g *Model) embedIDs(s *cuda.Stream, ids []int, rows int) error {
	c, sc := g.Config, &g.sc
	ids32 := make([]int32, rows)
	for i, id := range ids[:rows] {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("token %d at position %d is outside the vocabulary of %d", id, i, c.VocabSize)
		}
		ids32[i] = int32(id)
	}
	if err := s.CopyInt32sIn(sc.ids, 0, ids32); err != nil {
		return err
	}
	return s.Launch("embed_rows", rows, threads, 0, cuda.P(sc.h.Ptr), cuda.P(g.embed.Ptr), cuda.P(sc.ids.Ptr), cuda.I(rows), cuda.I(c.HiddenSize))
}

// mamba is Mamba2Mixer.forward.
func (g *Model) mamba(s *cuda.Stream, b *block, batch, n int) error {
	m, sc := b.mamba, &g.sc
	rows := batch * n
	I := m.Heads * m.HeadDim
	cd := I + 2*m.Groups*m.State
	H, pw := m.Heads, b.inProj.out
	if err := g.apply(s, &b.inProj, sc.proj.Ptr, sc.normed.Ptr, rows); err != nil {
		return err
	}
	if err := s.Launch("conv_silu", blocksFor(rows*cd), threads, 0, cuda.P(sc.xbc.Ptr), cuda.P(sc.proj.Ptr), cuda.P(b.convT.Ptr), cuda.P(b.convBias.Ptr),
		cuda.I(rows), cuda.I(n), cuda.I(cd), cuda.I(pw), cuda.I(I), cuda.I(m.Kernel)); err != nil {
		return err
	}
	if err := s.Launch("mamba_dt", blocksFor(rows*H), threads, 0, cuda.P(sc.dt.Ptr), cuda.P(sc.dA.Ptr), cuda.P(sc.proj.Ptr), cuda.P(b.dtBias.Ptr), cuda.P(b.a.Ptr),
		cuda.I(rows), cuda.I(H), cuda.I(pw), cuda.I(I+cd), cuda.F(m.DtMin), cuda.F(m.DtMax)); err != nil {
		return err
	}
	const scanThreads = 128 // 4 warps
	kernel, warps := "ssm_scan", batch*H*m.HeadDim
	if ns := (m.State + 31) / 32; !g.ScanPerChannel && m.HeadDim%4 == 0 && ns <= 8 {
		kernel, warps = "ssm_scan4_ns8", warps/4
		if ns <= 2 {
			kernel = "ssm_scan4_ns2"
		} else if ns <= 4 {
			kernel = "ssm_scan4_ns4"
		}
	}
	if err := s.Launch(kernel, (warps*32+scanThreads-1)/scanThreads, scanThreads, 0, cuda.P(sc.y.Ptr), cuda.P(sc.xbc.Ptr), cuda.P(sc.dt.Ptr), cuda.P(sc.dA.Ptr), cuda.P(b.d.Ptr),
		cuda.I(batch), cuda.I(n), cuda.I(H), cuda.I(m.HeadDim), cuda.I(m.State), cuda.I(m.Groups), cuda.I(cd), cuda.I(I)); err != nil {
		return err
	}
	gs := I / m.Groups
	if err := s.Launch("gated_rmsnorm", rows*m.Groups, min(threads, (gs+31)/32*32), 0, cuda.P(sc.y.Ptr), cuda.P(sc.proj.Ptr), cuda.P(b.gnormW.Ptr),
		cuda.I(rows), cuda.I(I), cuda.I(m.Groups), cuda.I(pw), cuda.F64(m.NormEps)); err != nil {
		return err
	}
	return g.apply(s, &b.outProj, sc.mix.Ptr, sc.y.Ptr, rows)
}

// mlpForward is MLP.forward.
func (g *Model) mlpForward(s *cuda.Stream, b *block, rows int) error {
	sc := &g.sc
	if err := g.apply(s, &b.up, sc.mlp.Ptr, sc.normed.Ptr, rows); err != nil {
		return err
	}
	act := "relu2_inplace"
	if b.mlp.Activation == "silu" {
		act = "silu_inplace"
	}
	if err := s.Launch(act, min(blocksFor(rows*b.up.out), 65535), threads, 0, cuda.P(sc.mlp.Ptr), cuda.I64(rows*b.up.out)); err != nil {
		return err
	}
	return g.apply(s, &b.down, sc.mix.Ptr, sc.mlp.Ptr, rows)
}

// attention is Attention.forward: per query head, the scores of every
// window at once (a strided batched product), the causal softmax, and the
// weighted values written into the head's columns of ctx.
func (g *Model) attention(s *cuda.Stream, b *block, batch, n int) error {
	a, sc := b.attn, &g.sc
	rows := batch * n
	for _, p := range []struct {
		l *linear
		y cuda.Buffer
	}{{&b.q, sc.q}, {&b.k, sc.k}, {&b.v, sc.v}} {
		if err := g.apply(s, p.l, p.y.Ptr, sc.normed.Ptr, rows); err != nil {
			return err
		}
	}
	D, Hq, Hkv := a.HeadDim, a.Heads, a.KVHeads
	qw, kvw := Hq*D, Hkv*D
	scale := float32(1 / math.Sqrt(float64(D)))
	group := Hq / Hkv
	for h := 0; h < Hq; h++ {
		kv := h / group
		// scores[b][i][j] = q[b,i,h]·k[b,j,kv]
		if err := s.SgemmStridedBatched(cuda.Trans, cuda.NoTrans, n, n, D, 1, sc.k.Float(kv*D), kvw, n*kvw, sc.q.Float(h*D), qw, n*qw,
			0, sc.scores.Ptr, n, n*n, batch); err != nil {
			return err
		}
		if err := s.Launch("causal_softmax", batch*n, threads, 0, cuda.P(sc.scores.Ptr), cuda.I(n), cuda.F(scale)); err != nil {
			return err
		}
		// ctx[b,i,h] = sum_j p[b][i][j] v[b,j,kv]
		if err := s.SgemmStridedBatched(cuda.NoTrans, cuda.NoTrans, D, n, n, 1, sc.v.Float(kv*D), kvw, n*kvw, sc.scores.Ptr, n, n*n,
			0, sc.ctx.Float(h*D), qw, n*qw, batch); err != nil {
			return err
		}
	}
	return g.apply(s, &b.o, sc.mix.Ptr, sc.ctx.Ptr, rows)
}

// finalNorm applies norm_f to sc.h into sc.normed.
func (g *Model) finalNorm(s *cuda.Stream, rows int) error {
	return s.Launch("rmsnorm", rows, threads, 0, cuda.P(g.sc.normed.Ptr), cuda.P(g.sc.h.Ptr), cuda.P(g.normF.Ptr), cuda.I(rows), cuda.I(g.Config.HiddenSize), cuda.F64(g.Config.NormEps))
}

// NLL returns the next-token losses of each window (len(w)-1 values each,
// as Model.NLL). The windows must have one length; they run as one batch.
func (g *Model) NLL(windows [][]int) ([][]float64, error) {
	if len(windows) == 0 {
		return nil, nil
	}
	ids, n, err := flatten(windows)
	if err != nil {
		return nil, err
	}
	batch := len(windows)
	rows := batch * n
	V := g.Config.VocabSize
	flat := make([]float64, rows)
	err = g.Dev.Run(func(s *cuda.Stream) error {
		if err := g.forward(s, ids, batch, n, nil); err != nil {
			return err
		}
		if err := g.finalNorm(s, rows); err != nil {
			return err
		}
		sc := &g.sc
		if err := s.CopyInt32sIn(sc.targets, 0, nextTargets(ids, n)); err != nil {
			return err
		}
		d := g.Config.HiddenSize
		for r0 := 0; r0 < rows; r0 += sc.logitRows {
			r := min(sc.logitRows, rows-r0)
			if err := g.apply(s, &g.head, sc.logits.Ptr, sc.normed.Float(r0*d), r); err != nil {
				return err
			}
			if err := s.Launch("nll_rows", r, threads, 0, cuda.P(sc.nll.Ptr+uint64(8*r0)), cuda.P(sc.logits.Ptr), cuda.P(sc.targets.Ptr+uint64(4*r0)), cuda.I(r), cuda.I(V)); err != nil {
				return err
			}
		}
		return s.CopyFloat64sOut(flat, sc.nll)
	})
	if err != nil {
		return nil, err
	}
	out := make([][]float64, batch)
	for b := range out {
		out[b] = flat[b*n : b*n+n-1]
	}
	return out, nil
}

// Logits runs one sequence and returns its n×vocab logits (as Model.Logits).
func (g *Model) Logits(ids []int) ([]float32, error) {
	return g.run(ids, nil, true)
}

// Hidden runs one sequence and returns the hidden state entering every
// block and the last block's output (len(Blocks)+1 matrices of n×hidden,
// what runtime's HiddenHook sees), for parity tests.
func (g *Model) Hidden(ids []int) ([][]float32, error) {
	var hs [][]float32
	_, err := g.run(ids, &hs, false)
	return hs, err
}

func (g *Model) run(ids []int, hidden *[][]float32, logits bool) ([]float32, error) {
	n := len(ids)
	if n == 0 {
		return nil, nil
	}
	d, V := g.Config.HiddenSize, g.Config.VocabSize
	var out []float32
	err := g.Dev.Run(func(s *cuda.Stream) error {
		var hook func(int) error
		if hidden != nil {
			hook = func(int) error {
				h := make([]float32, n*d)
				*hidden = append(*hidden, h)
				return s.CopyFloatsOut(h, g.sc.h, 0)
			}
		}
		if err := g.forward(s, ids, 1, n, hook); err != nil {
			return err
		}
		if !logits {
			return nil
		}
		if err := g.finalNorm(s, n); err != nil {
			return err
		}
		out = make([]float32, n*V)
		sc := &g.sc
		for r0 := 0; r0 < n; r0 += sc.logitRows {
			r := min(sc.logitRows, n-r0)
			if err := g.apply(s, &g.head, sc.logits.Ptr, sc.normed.Float(r0*d), r); err != nil {
				return err
			}
			if err := s.CopyFloatsOut(out[r0*V:(r0+r)*V], sc.logits, 0); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
