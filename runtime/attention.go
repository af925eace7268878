package runtime

import (
	"github.com/hyquant/hyquant/internal/parallel"
	"math"

	"github.com/hyquant/hyquant/kernels"
)

// Attention is NemotronH's self-attention mixer: causal, grouped-query
// (NumKVHeads key/value heads shared by groups of query heads), no
// positional encoding, scores scaled by 1/sqrt(head_dim).
type Attention struct {
	Q, K, V, O                 kernels.Linear
	QName, KName, VName, OName string
	Heads, KVHeads, HeadDim    int
}

func (a *Attention) forward(p *pass, out, x []float32, n int) {
	D, Hq, Hkv := a.HeadDim, a.Heads, a.KVHeads
	qw, kvw := Hq*D, Hkv*D
	q, k, v := p.buf(n*qw), p.buf(n*kvw), p.buf(n*kvw)
	p.apply(a.QName, a.Q, q, x, n)
	p.apply(a.KName, a.K, k, x, n)
	p.apply(a.VName, a.V, v, x, n)

	ctx := p.buf(n * qw)
	qh, kh, vh := p.buf(n*D), p.buf(n*D), p.buf(n*D)
	scores, oh := p.buf(n*n), p.buf(n*D)
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
	p.apply(a.OName, a.O, out, ctx, n)
}

// gatherHead copies columns [off, off+d) of an n×width matrix into n×d.
func gatherHead(dst, src []float32, n, width, off, d int) {
	for t := 0; t < n; t++ {
		copy(dst[t*d:(t+1)*d], src[t*width+off:t*width+off+d])
	}
}

func (a *Attention) slots(layer int) []LinearSlot {
	return []LinearSlot{
		{Name: a.QName, Category: AttnQ, Layer: layer, Ptr: &a.Q},
		{Name: a.KName, Category: AttnK, Layer: layer, Ptr: &a.K},
		{Name: a.VName, Category: AttnV, Layer: layer, Ptr: &a.V},
		{Name: a.OName, Category: AttnO, Layer: layer, Ptr: &a.O},
	}
}
