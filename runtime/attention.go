package runtime

import (
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

// forward is o_proj(attention(q_proj(x), k_proj(x), v_proj(x))) on a
// backend.
func (a *Attention) forward(b Backend, out, x Activations) {
	rows := x.Rows()
	qw, kvw := a.Heads*a.HeadDim, a.KVHeads*a.HeadDim
	q, k, v := b.New(rows, qw), b.New(rows, kvw), b.New(rows, kvw)
	b.Linear(a.QName, a.Q, q, x)
	b.Linear(a.KName, a.K, k, x)
	b.Linear(a.VName, a.V, v, x)
	ctx := b.New(rows, qw)
	b.Attend(ctx, q, k, v, a)
	b.Linear(a.OName, a.O, out, ctx)
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
