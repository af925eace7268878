package runtime

import (
	"github.com/hyquant/hyquant/kernels"

	"github.com/hyquant/hyquant/internal/parallel"
)

// MLP is NemotronH's feed-forward mixer: down_proj(act(up_proj(x))) with
// squared ReLU (relu2) or SiLU, no gate.
type MLP struct {
	Up, Down         kernels.Linear
	UpName, DownName string
	Activation       string // relu2 or silu
}

func (m *MLP) forward(p *pass, out, x []float32, n int) {
	inner := m.Up.Out()
	h := p.buf(n * inner)
	p.apply(m.UpName, m.Up, h, x, n)
	act := kernels.ReLU2
	if m.Activation == "silu" {
		act = kernels.SiLU
	}
	parallel.For(n, 16, func(lo, hi int) { act(h[lo*inner : hi*inner]) })
	p.apply(m.DownName, m.Down, out, h, n)
}

func (m *MLP) slots(layer int) []LinearSlot {
	return []LinearSlot{
		{Name: m.UpName, Category: MLPUp, Layer: layer, Ptr: &m.Up},
		{Name: m.DownName, Category: MLPDown, Layer: layer, Ptr: &m.Down},
	}
}
