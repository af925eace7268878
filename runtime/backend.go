package runtime

import "github.com/hyquant/hyquant/kernels"

// Backend is what a block's forward pass asks of the machine it runs on:
// activation buffers, the projections, and NemotronH's element-wise and
// sequence kernels. The mixers (Mamba2Mixer, MLP, Attention) are written
// once against it, the way ollama's models run on ml.Context; the CPU
// runtime (cpuBackend, this package) is one implementation, and a device
// runtime can be another. A batch is Windows() windows of equal length
// laid end to end, so an Activations of r rows holds r/Windows() tokens of
// each window.
type Backend interface {
	// New returns rows×cols activations (contents undefined).
	New(rows, cols int) Activations
	// Windows is how many windows the rows of this pass's activations hold.
	Windows() int
	// Linear is y = l(x) for the projection named name; observers of the
	// pass see x.
	Linear(name string, l kernels.Linear, y, x Activations)
	// RMSNorm is y = w · x / rms(x) per row (x may be y).
	RMSNorm(y, x Activations, w []float32, eps float64)
	// Add is h += m.
	Add(h, m Activations)
	// Activate applies relu2 or silu in place.
	Activate(kind string, x Activations)
	// ConvSiLU is the Mamba2 mixer's causal depthwise conv1d of proj's xBC
	// columns, plus bias, then SiLU, into xbc.
	ConvSiLU(xbc, proj Activations, m *Mamba2Mixer)
	// Dt writes the time steps (softplus, clamped) and decays exp(dt·A).
	Dt(dt, dA, proj Activations, m *Mamba2Mixer)
	// Scan is the selective scan with the D skip, into y.
	Scan(y, xbc, dt, dA Activations, m *Mamba2Mixer)
	// GatedNorm is y = RMSNorm_grouped(y · silu(gate)) · w, gate from proj.
	GatedNorm(y, proj Activations, m *Mamba2Mixer)
	// Attend is causal grouped-query attention of q, k, v into ctx.
	Attend(ctx, q, k, v Activations, a *Attention)
}

// Activations is a Backend's rows×cols matrix of one pass.
type Activations interface {
	Rows() int
	Cols() int
}

// RunBlockOn applies block i in place on a backend: h = h +
// mixer(RMSNorm(h)).
func (m *Model) RunBlockOn(b Backend, i int, h Activations) {
	blk := m.Blocks[i]
	normed, mix := b.New(h.Rows(), h.Cols()), b.New(h.Rows(), h.Cols())
	b.RMSNorm(normed, h, blk.NormW, m.Config.NormEps)
	switch {
	case blk.Mamba != nil:
		blk.Mamba.forward(b, mix, normed)
	case blk.MLP != nil:
		blk.MLP.forward(b, mix, normed)
	case blk.Attention != nil:
		blk.Attention.forward(b, mix, normed)
	}
	b.Add(h, mix)
}
