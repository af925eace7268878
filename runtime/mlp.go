package runtime

import (
	"github.com/hyquant/hyquant/kernels"
)

// MLP is NemotronH's feed-forward mixer: down_proj(act(up_proj(x))) with
// squared ReLU (relu2) or SiLU, no gate.
type MLP struct {
	Up, Down         kernels.Linear
	UpName, DownName string
	Activation       string // relu2 or silu
}

// forward is down_proj(act(up_proj(x))) on a backend.
func (m *MLP) forward(b Backend, out, x Activations) {
	h := b.New(x.Rows(), m.Up.Out())
	b.Linear(m.UpName, m.Up, h, x)
	b.Activate(m.Activation, h)
	b.Linear(m.DownName, m.Down, out, h)
}

func (m *MLP) slots(layer int) []LinearSlot {
	return []LinearSlot{
		{Name: m.UpName, Category: MLPUp, Layer: layer, Ptr: &m.Up},
		{Name: m.DownName, Category: MLPDown, Layer: layer, Ptr: &m.Down},
	}
}
