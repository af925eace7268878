package quant

import (
	"fmt"
	"sync"

	"github.com/hyquant/hyquant/kernels"
)

// RotatedLinear is a linear layer that sees its input through a transform:
// y = Inner(T(x)). With Inner holding W' = W·diag(s)·Rᵀ (quantised or not)
// it computes W·x up to the rounding of W'.
type RotatedLinear struct {
	T     *Transform
	Inner kernels.Linear
}

// NewRotatedLinear checks that t fits inner's input width.
func NewRotatedLinear(t *Transform, inner kernels.Linear) (*RotatedLinear, error) {
	if err := t.Validate(inner.In()); err != nil {
		return nil, fmt.Errorf("quant.NewRotatedLinear: %v", err)
	}
	return &RotatedLinear{T: t, Inner: inner}, nil
}

// In is the input width.
func (l *RotatedLinear) In() int { return l.Inner.In() }

// Out is the output width.
func (l *RotatedLinear) Out() int { return l.Inner.Out() }

// Apply transforms the n rows of x into a scratch buffer, then applies Inner.
func (l *RotatedLinear) Apply(y, x []float32, n int) {
	buf := getScratch(l.Inner.In() * n)
	l.T.Apply(*buf, x, n, l.Inner.In())
	l.Inner.Apply(y, *buf, n)
	putScratch(buf)
}

// scratchPool holds the float32 buffers wrappers transform inputs into, so
// a forward pass does not allocate one per layer call.
var scratchPool sync.Pool

// getScratch returns a buffer of n values (contents undefined).
func getScratch(n int) *[]float32 {
	bp, _ := scratchPool.Get().(*[]float32)
	if bp == nil {
		bp = new([]float32)
	}
	if cap(*bp) < n {
		*bp = make([]float32, n)
	}
	*bp = (*bp)[:n]
	return bp
}

func putScratch(bp *[]float32) { scratchPool.Put(bp) }
