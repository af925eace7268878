package quant

import (
	"fmt"
	"math"

	"github.com/hyquant/hyquant/kernels"
)

// Activation modes of ActQuant.
const (
	ActPerToken  = "token"  // dynamic: one scale per input row, from its absmax
	ActPerTensor = "tensor" // static: one scale for every input, from calibration
)

// ActQuant fake-quantises a linear layer's input: each value is rounded to a
// symmetric Bits-bit grid and dequantised (x ← scale·clamp(roundHalfEven(x/
// scale), −qmax, qmax), qmax = 2^(Bits−1) − 1) before Inner sees it. It
// measures the accuracy cost of integer activations without integer kernels.
// Scales are float32 and not rounded to a storage dtype.
type ActQuant struct {
	Inner kernels.Linear
	Bits  int
	Mode  string
	// Scale is the static scale of ActPerTensor: max over channels of the
	// calibration absmax, divided by qmax.
	Scale float32
}

// NewActQuant wraps inner with activation fake-quantisation. mode "token"
// is dynamic per row; "tensor" uses one static scale from st (max of
// st.AbsMax / qmax) and errors without statistics. st must describe the
// inputs inner itself sees: to quantise the rotated input of a rotated
// layer, wrap the inner (quantised) linear and pass statistics of T(x),
// then put the RotatedLinear around the result.
func NewActQuant(inner kernels.Linear, bits int, mode string, st *Stats) (kernels.Linear, error) {
	var scale float32
	if mode == ActPerTensor {
		if st == nil {
			return nil, fmt.Errorf("activation quantisation per tensor needs calibration statistics (the static scale is their absmax); none given")
		}
		if len(st.AbsMax) != inner.In() {
			return nil, fmt.Errorf("activation quantisation: statistics %s are for %d inputs, the layer has %d", st.Name, len(st.AbsMax), inner.In())
		}
		scale = StaticActScale(st, bits)
	}
	return NewActQuantScale(inner, bits, mode, scale)
}

// StaticActScale is the per-tensor activation scale of calibration
// statistics: max over channels of st.AbsMax, divided by 2^(bits−1) − 1.
func StaticActScale(st *Stats, bits int) float32 {
	var m float32
	for _, v := range st.AbsMax {
		m = max(m, v)
	}
	return m / float32(int(1)<<(bits-1)-1)
}

// NewActQuantScale is NewActQuant with the static scale given (as a
// checkpoint stores it); scale is ignored for mode "token". A zero static
// scale (inputs never non-zero in calibration) quantises everything to 0.
func NewActQuantScale(inner kernels.Linear, bits int, mode string, scale float32) (kernels.Linear, error) {
	if err := CheckBits(bits, 2, 8); err != nil {
		return nil, fmt.Errorf("activation quantisation: %v", err)
	}
	switch mode {
	case ActPerToken:
		scale = 0
	case ActPerTensor:
		if !(scale >= 0) || math.IsInf(float64(scale), 0) {
			return nil, fmt.Errorf("activation quantisation per tensor: static scale %v is not a finite non-negative number", scale)
		}
	default:
		return nil, fmt.Errorf("activation mode %q is not %s (dynamic per token) or %s (static, calibrated)", mode, ActPerToken, ActPerTensor)
	}
	return &ActQuant{Inner: inner, Bits: bits, Mode: mode, Scale: scale}, nil
}

func (a *ActQuant) qmax() int { return 1<<(a.Bits-1) - 1 }

// In is the input width.
func (a *ActQuant) In() int { return a.Inner.In() }

// Out is the output width.
func (a *ActQuant) Out() int { return a.Inner.Out() }

// Apply quantises and dequantises the n rows of x into a scratch buffer,
// then applies Inner.
func (a *ActQuant) Apply(y, x []float32, n int) {
	cols := a.Inner.In()
	bp := getScratch(n * cols)
	buf := *bp
	for r := 0; r < n; r++ {
		scale := a.Scale
		if a.Mode == ActPerToken {
			var m float32
			for _, v := range x[r*cols : (r+1)*cols] {
				m = max(m, float32(math.Abs(float64(v))))
			}
			scale = m / float32(a.qmax())
		}
		FakeQuantize(buf[r*cols:(r+1)*cols], x[r*cols:(r+1)*cols], scale, a.qmax())
	}
	a.Inner.Apply(y, buf, n)
	putScratch(bp)
}

// FakeQuantize writes scale·clamp(roundHalfEven(x/scale), −qmax, qmax) for
// each x into dst; a zero scale (an all-zero row) writes zeros.
func FakeQuantize(dst, x []float32, scale float32, qmax int) {
	if scale == 0 {
		clear(dst[:len(x)])
		return
	}
	m := float64(qmax)
	for i, v := range x {
		q := math.Max(-m, math.Min(math.RoundToEven(float64(v)/float64(scale)), m))
		dst[i] = scale * float32(q)
	}
}
