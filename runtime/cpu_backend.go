package runtime

import (
	"math"

	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/kernels"
)

// cpuBackend is the Backend of this package's runtime: one window per
// pass, host float32 matrices, the kernels package's loops.
type cpuBackend struct {
	obs Observer
}

// host is a cpuBackend's activations: rows×cols row-major float32.
type host struct {
	d          []float32
	rows, cols int
}

func (h host) Rows() int { return h.rows }
func (h host) Cols() int { return h.cols }

// hostOf is the matrix behind a cpuBackend's activations.
func hostOf(a Activations) []float32 { return a.(host).d }

func (b *cpuBackend) New(rows, cols int) Activations {
	return host{d: make([]float32, rows*cols), rows: rows, cols: cols}
}

func (b *cpuBackend) Windows() int { return 1 }

func (b *cpuBackend) Linear(name string, l kernels.Linear, y, x Activations) {
	n, xs := x.Rows(), hostOf(x)
	if b.obs != nil {
		b.obs.ObserveLinearInput(name, xs[:n*l.In()], n, l.In())
	}
	l.Apply(hostOf(y), xs, n)
}

func (b *cpuBackend) RMSNorm(y, x Activations, w []float32, eps float64) {
	rmsNorm(hostOf(y), hostOf(x), w, x.Rows(), x.Cols(), eps)
}

func (b *cpuBackend) Add(h, m Activations) {
	hs := hostOf(h)
	for i, v := range hostOf(m) {
		hs[i] += v
	}
}

func (b *cpuBackend) Activate(kind string, x Activations) {
	act := kernels.ReLU2
	if kind == "silu" {
		act = kernels.SiLU
	}
	xs, inner := hostOf(x), x.Cols()
	parallel.For(x.Rows(), 16, func(lo, hi int) { act(xs[lo*inner : hi*inner]) })
}

func (b *cpuBackend) ConvSiLU(out, in Activations, m *Mamba2Mixer) {
	xbc, proj := hostOf(out), hostOf(in)
	n, I, cd, pw, K := in.Rows(), m.inner(), m.convDim(), in.Cols(), m.Kernel
	parallel.For(n, 32, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			row := xbc[t*cd : (t+1)*cd]
			copy(row, m.ConvBias)
			for k := 0; k < K; k++ {
				src := t - (K - 1) + k
				if src < 0 {
					continue
				}
				w := m.ConvT[k*cd : (k+1)*cd]
				in := proj[src*pw+I : src*pw+I+cd]
				for c, wv := range w {
					row[c] += wv * in[c]
				}
			}
			kernels.SiLU(row)
		}
	})
}

func (b *cpuBackend) Dt(dtA, dAA, in Activations, m *Mamba2Mixer) {
	dt, dA, proj := hostOf(dtA), hostOf(dAA), hostOf(in)
	n, I, cd, H, pw := in.Rows(), m.inner(), m.convDim(), m.Heads, in.Cols()
	for t := 0; t < n; t++ {
		for h := 0; h < H; h++ {
			v := kernels.Softplus(proj[t*pw+I+cd+h] + m.DtBias[h])
			v = min(max(v, m.DtMin), m.DtMax)
			dt[t*H+h] = v
			dA[t*H+h] = kernels.Exp32(v * m.A[h])
		}
	}
}

// Scan runs one head at a time per worker over the whole window; the D
// skip is added inside.
func (b *cpuBackend) Scan(yA, xbcA, dtA, dAA Activations, m *Mamba2Mixer) {
	y, xbc, dt, dA := hostOf(yA), hostOf(xbcA), hostOf(dtA), hostOf(dAA)
	n, I, cd, H := yA.Rows(), m.inner(), m.convDim(), m.Heads
	P, N, G := m.HeadDim, m.State, m.Groups
	perGroup := H / G
	parallel.For(H, 1, func(lo, hi int) {
		state := make([]float32, P*N)
		for h := lo; h < hi; h++ {
			clear(state)
			g := h / perGroup
			kernels.SSMScan(state, P, N, n, xbc[h*P:], cd, xbc[I+g*N:], xbc[I+G*N+g*N:], cd, dA[h:], dt[h:], H, m.D[h], y[h*P:], I)
		}
	})
}

// GatedNorm: y · silu(gate), normalised in groups of I/G.
func (b *cpuBackend) GatedNorm(yA, in Activations, m *Mamba2Mixer) {
	y, proj := hostOf(yA), hostOf(in)
	n, I, G, pw := yA.Rows(), m.inner(), m.Groups, in.Cols()
	gs := I / G
	parallel.For(n, 32, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			yt := y[t*I : (t+1)*I]
			kernels.SiLUMul(yt, proj[t*pw:t*pw+I])
			for g := 0; g < G; g++ {
				normalizeRow(yt[g*gs:(g+1)*gs], yt[g*gs:(g+1)*gs], m.NormW[g*gs:(g+1)*gs], m.NormEps)
			}
		}
	})
}

// Attend runs every query head of a KV head against it: scores, causal
// softmax, weighted values into the head's columns of ctx.
func (b *cpuBackend) Attend(ctxA, qA, kA, vA Activations, a *Attention) {
	ctx, q, k, v := hostOf(ctxA), hostOf(qA), hostOf(kA), hostOf(vA)
	n, D, Hq, Hkv := qA.Rows(), a.HeadDim, a.Heads, a.KVHeads
	qw, kvw := Hq*D, Hkv*D
	qh, kh, vh := make([]float32, n*D), make([]float32, n*D), make([]float32, n*D)
	scores, oh := make([]float32, n*n), make([]float32, n*D)
	scale := float32(1 / math.Sqrt(float64(D)))
	group := Hq / Hkv
	for kv := 0; kv < Hkv; kv++ {
		gatherHead(kh, k, n, kvw, kv*D, D)
		gatherHead(vh, v, n, kvw, kv*D, D)
		for h := kv * group; h < (kv+1)*group; h++ {
			gatherHead(qh, q, n, qw, h*D, D)
			kernels.MatMulNT(scores, qh, kh, n, n, D)
			parallel.For(n, 32, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					row := scores[i*n : i*n+i+1] // causal: keys 0..i
					for j := range row {
						row[j] *= scale
					}
					kernels.SoftmaxInPlace(row)
					clear(scores[i*n+i+1 : (i+1)*n])
				}
			})
			kernels.MatMulNN(oh, scores, vh, n, D, n)
			for t := 0; t < n; t++ {
				copy(ctx[t*qw+h*D:t*qw+h*D+D], oh[t*D:(t+1)*D])
			}
		}
	}
}
