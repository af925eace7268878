package runtime

import (
	"math"

	"github.com/hyquant/hyquant/kernels"
)

// Mamba2Mixer is the selective state space mixer of NemotronH:
//
//	gate, xBC, dt = in_proj(x)
//	xBC  = silu(causal depthwise conv1d(xBC) + conv bias)
//	x, B, C = split(xBC)            (B and C shared by the heads of a group)
//	dt   = clamp(softplus(dt + dt_bias), time_step_limit)
//	y    = scan(x, dt, A = -exp(A_log), B, C) + D * x
//	y    = RMSNorm_grouped(y * silu(gate)) * norm.weight
//	out  = out_proj(y)
type Mamba2Mixer struct {
	InProj, OutProj         kernels.Linear
	InProjName, OutProjName string

	ConvT    []float32 // conv kernel transposed: ConvKernel × ConvDim
	ConvBias []float32 // ConvDim (zeros when the config has no conv bias)
	DtBias   []float32 // Heads
	A        []float32 // Heads, -exp(A_log)
	D        []float32 // Heads
	NormW    []float32 // Inner

	Heads, HeadDim, Groups, State, Kernel int
	NormEps                               float64
	DtMin, DtMax                          float32
}

func (m *Mamba2Mixer) inner() int   { return m.Heads * m.HeadDim }
func (m *Mamba2Mixer) convDim() int { return m.inner() + 2*m.Groups*m.State }

// forward is the mixer on a backend: out = out_proj(gated norm(scan(conv(in_proj(x))))).
func (m *Mamba2Mixer) forward(b Backend, out, x Activations) {
	rows := x.Rows()
	proj := b.New(rows, m.InProj.Out()) // I + cd + H
	b.Linear(m.InProjName, m.InProj, proj, x)
	xbc := b.New(rows, m.convDim())
	b.ConvSiLU(xbc, proj, m)
	dt, dA := b.New(rows, m.Heads), b.New(rows, m.Heads)
	b.Dt(dt, dA, proj, m)
	y := b.New(rows, m.inner())
	b.Scan(y, xbc, dt, dA, m)
	b.GatedNorm(y, proj, m)
	b.Linear(m.OutProjName, m.OutProj, out, y)
}

func (m *Mamba2Mixer) slots(layer int) []LinearSlot {
	return []LinearSlot{
		{Name: m.InProjName, Category: SSMInProj, Layer: layer, Ptr: &m.InProj},
		{Name: m.OutProjName, Category: SSMOutProj, Layer: layer, Ptr: &m.OutProj},
	}
}

// loadMamba2 reads one Mamba2 layer's weights.
func loadMamba2(c *Config, ws WeightSource, prefix string) (*Mamba2Mixer, error) {
	I, cd, H := c.MambaIntermediate(), c.ConvDim(), c.MambaNumHeads
	m := &Mamba2Mixer{
		InProjName: prefix + "in_proj.weight", OutProjName: prefix + "out_proj.weight",
		Heads: H, HeadDim: c.MambaHeadDim, Groups: c.NGroups, State: c.SSMStateSize, Kernel: c.ConvKernel,
		NormEps: c.NormEps, DtMin: float32(c.TimeStepLimit[0]), DtMax: float32(c.TimeStepLimit[1]),
	}
	bias := func(name string) string {
		if c.UseBias {
			return prefix + name + ".bias"
		}
		return ""
	}
	var err error
	if m.InProj, err = ws.Linear(m.InProjName, c.InProjOut(), c.HiddenSize, bias("in_proj")); err != nil {
		return nil, err
	}
	if m.OutProj, err = ws.Linear(m.OutProjName, c.HiddenSize, I, bias("out_proj")); err != nil {
		return nil, err
	}
	conv, err := ws.Float32(prefix+"conv1d.weight", cd, 1, c.ConvKernel)
	if err != nil {
		return nil, err
	}
	m.ConvT = make([]float32, c.ConvKernel*cd)
	for ch := 0; ch < cd; ch++ {
		for k := 0; k < c.ConvKernel; k++ {
			m.ConvT[k*cd+ch] = conv[ch*c.ConvKernel+k]
		}
	}
	m.ConvBias = make([]float32, cd)
	if c.UseConvBias {
		if m.ConvBias, err = ws.Float32(prefix+"conv1d.bias", cd); err != nil {
			return nil, err
		}
	}
	if m.DtBias, err = ws.Float32(prefix+"dt_bias", H); err != nil {
		return nil, err
	}
	aLog, err := ws.Float32(prefix+"A_log", H)
	if err != nil {
		return nil, err
	}
	m.A = make([]float32, H)
	for h, v := range aLog {
		m.A[h] = float32(-math.Exp(float64(v)))
	}
	if m.D, err = ws.Float32(prefix+"D", H); err != nil {
		return nil, err
	}
	if m.NormW, err = ws.Float32(prefix+"norm.weight", I); err != nil {
		return nil, err
	}
	return m, nil
}
