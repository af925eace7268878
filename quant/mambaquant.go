package quant

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// MambaQuant rotates a linear layer's input space before rounding, as in
// MambaQuant (Xu et al., ICLR 2025): outlier channels of Mamba inputs are
// spread over many channels by an orthogonal transform, so the rotated
// weight W' = W·diag(s)·Rᵀ has a flatter distribution and rounds with less
// error, while W'·T(x) = W·x with T(x) = R·(x ⊘ s) applied at run time
// (see transform.go and RotatedLinear).
//
// Options:
//
//	rotation  hadamard (default): R = H_bd·diag(signs), the block-diagonal
//	          orthonormal Walsh-Hadamard of block HadamardBlockSize(cols)
//	          after random ±1 signs; stored as the signs alone.
//	          klt: the KLT-enhanced rotation R = H_bd·diag(signs)·Kᵀ, with K
//	          the eigenvectors of the (smoothed) calibration input
//	          covariance: Kᵀ decorrelates the channels, the Hadamard then
//	          equalises their variances; stored as a dense cols×cols matrix.
//	rounding  rtn (default) or gptq (with the transformed Hessian
//	          R·diag(1/s)·H·diag(1/s)·Rᵀ); with gptq the spec also accepts
//	          gptq's damp, act_order, static_groups and block_size, with
//	          the same defaults; with rtn they are errors.
//	seed      seed of the random signs (default 0); the signs derive from
//	          the seed and the layer name, so layers differ and runs repeat.
//	smooth    SmoothQuant strength α in [0, 1] (default 0 = off):
//	          s_j = max|x_j|^α / max|W[:, j]|^(1−α), s_j = 1 where either
//	          maximum is 0 (or the ratio is not a positive finite number).
type MambaQuant struct{}

func init() { Register(MambaQuant{}) }

// Rounding modes of MambaQuant.
const (
	RoundingRTN  = "rtn"
	RoundingGPTQ = "gptq"
)

func (MambaQuant) Name() string { return "mambaquant" }
func (MambaQuant) Summary() string {
	return "MambaQuant: Hadamard or KLT-enhanced rotation (optionally smoothed) of the input space, applied online, then RTN or GPTQ rounding (not exportable to GGUF; plans' residual_rotation is the fused, exportable rotation)"
}
func (MambaQuant) Options() []string {
	return []string{"rotation", "rounding", "seed", "smooth", "damp", "act_order", "static_groups", "block_size"}
}

// MatrixOnly: the rotation acts on a linear layer's input space.
func (MambaQuant) MatrixOnly() bool { return true }

// Prepare fills in the defaults and checks the options.
func (MambaQuant) Prepare(s *Spec) error {
	if err := CheckBits(s.Bits, 2, 8); err != nil {
		return err
	}
	switch s.Rotation {
	case "":
		s.Rotation = RotationHadamard
	case RotationHadamard, RotationKLT:
	default:
		return fmt.Errorf("rotation %q is not %s or %s", s.Rotation, RotationHadamard, RotationKLT)
	}
	if !(s.Smooth >= 0 && s.Smooth <= 1) {
		return fmt.Errorf("smooth %v is outside [0, 1] (the SmoothQuant strength α; 0 turns smoothing off)", s.Smooth)
	}
	switch s.Rounding {
	case "":
		s.Rounding = RoundingRTN
		fallthrough
	case RoundingRTN:
		if s.Damp != 0 || s.ActOrder || s.StaticGroups || s.BlockSize != 0 {
			return fmt.Errorf("damp, act_order, static_groups and block_size are GPTQ options: set rounding: gptq to use them")
		}
		return nil
	case RoundingGPTQ:
		return prepareGPTQ(s)
	}
	return fmt.Errorf("rounding %q is not %s or %s", s.Rounding, RoundingRTN, RoundingGPTQ)
}

// NeedsCalibration: a Hadamard rotation with RTN rounding needs nothing
// but the weights; KLT, smoothing and GPTQ rounding need input statistics.
func (MambaQuant) NeedsCalibration(s Spec) bool {
	return s.Rotation == RotationKLT || s.Smooth > 0 || s.Rounding == RoundingGPTQ
}

// Aux lists the transform's tensors (see Transform.Tensors).
func (MambaQuant) Aux(a Assignment) []safetensors.TensorSpec {
	kind := a.Spec.Rotation
	if kind == "" {
		kind = RotationHadamard
	}
	return transformSpecs(a.Param.Name, kind, a.Cols, a.Spec.Smooth > 0)
}

// Quantize builds the layer's transform, rotates the weight and rounds it.
func (m MambaQuant) Quantize(w []float32, a Assignment, st *Stats) (*Quantized, error) {
	if err := checkWeights("mambaquant", w, a); err != nil {
		return nil, err
	}
	s := a.Spec
	if s.Rotation == "" || s.Rounding == "" {
		if err := m.Prepare(&s); err != nil {
			return nil, fmt.Errorf("mambaquant: %s: %v", a.Param.Name, err)
		}
	}
	if m.NeedsCalibration(s) {
		if err := checkStats("mambaquant", a, st); err != nil {
			return nil, err
		}
	}
	t, err := NewTransform(s, a.Param.Name, w, a.Rows, a.Cols, st)
	if err != nil {
		return nil, fmt.Errorf("mambaquant: %s: %v", a.Param.Name, err)
	}
	rotated := widen(t.RotateWeights(w, a.Rows, a.Cols))
	g := grid.Grid{Rows: a.Rows, Cols: a.Cols, Granularity: s.Granularity}
	var q *kernels.QMatrix
	if s.Rounding == RoundingGPTQ {
		h := st.Hessian()
		t.RotateGram(h, a.Cols)
		q, err = RoundGPTQ(rotated, h, g, SchemeOf(s), GPTQOptionsOf(s, st), a.Param.Name)
	} else {
		q, err = grid.RoundToNearest(rotated, g, SchemeOf(s))
	}
	if err != nil {
		return nil, err
	}
	return &Quantized{Q: q, Transform: t}, nil
}

// NewTransform builds the input transform a prepared mambaquant spec gives
// the layer name with weight w (rows×cols): its signs, smoothing divisors
// (spec.Smooth > 0) and, for klt, the dense rotation. st may be nil only
// for a Hadamard rotation without smoothing.
func NewTransform(s Spec, name string, w []float32, rows, cols int, st *Stats) (*Transform, error) {
	kind := s.Rotation
	if kind == "" {
		kind = RotationHadamard
	}
	t := &Transform{Kind: kind, Signs: RandomSigns(s.Seed, name, cols), Block: kernels.HadamardBlockSize(cols)}
	if s.Smooth > 0 {
		if st == nil {
			return nil, fmt.Errorf("smoothing needs calibration statistics")
		}
		t.Smooth = SmoothingDivisors(w, rows, cols, st.AbsMax, s.Smooth)
	}
	switch kind {
	case RotationHadamard:
	case RotationKLT:
		if st == nil {
			return nil, fmt.Errorf("the klt rotation needs calibration statistics")
		}
		m, err := kltRotation(t, st.Covariance(), cols)
		if err != nil {
			return nil, err
		}
		t.Kind, t.Matrix = RotationKLT, m
	default:
		return nil, fmt.Errorf("rotation %q is not %s or %s", kind, RotationHadamard, RotationKLT)
	}
	return t, nil
}

// RandomSigns returns cols random ±1 values drawn from a PCG generator
// seeded with seed and the FNV-1a hash of the layer name.
func RandomSigns(seed int64, name string, cols int) []float32 {
	h := fnv.New64a()
	h.Write([]byte(name))
	r := rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
	signs := make([]float32, cols)
	for i := range signs {
		signs[i] = 1
		if r.Uint64()&1 == 1 {
			signs[i] = -1
		}
	}
	return signs
}

// SmoothingDivisors returns SmoothQuant's per-input-channel divisors
// s_j = max|x_j|^α / max_r|W[r][j]|^(1−α) for a rows×cols weight and the
// inputs' absolute maxima. A channel whose activation or weight maximum is
// 0 (a dead input, or a column of zeros), or whose ratio is not a positive
// finite number, gets s_j = 1: nothing to balance there.
func SmoothingDivisors(w []float32, rows, cols int, xAbsMax []float32, alpha float64) []float32 {
	wmax := make([]float64, cols)
	for r := 0; r < rows; r++ {
		for c, v := range w[r*cols : (r+1)*cols] {
			wmax[c] = math.Max(wmax[c], math.Abs(float64(v)))
		}
	}
	s := make([]float32, cols)
	for c := range s {
		s[c] = 1
		x := float64(xAbsMax[c])
		if x == 0 || wmax[c] == 0 {
			continue
		}
		v := float32(math.Pow(x, alpha) / math.Pow(wmax[c], 1-alpha))
		if v > 0 && !math.IsInf(float64(v), 0) {
			s[c] = v
		}
	}
	return s
}

// kltRotation returns the KLT-enhanced rotation R = H_bd·diag(signs)·Kᵀ
// (row-major cols×cols float32) for transform t (whose signs, block and
// smoothing are set) and the input covariance cov. K holds the eigenvectors
// of the covariance of the smoothed inputs x ⊘ s, ordered by decreasing
// eigenvalue.
func kltRotation(t *Transform, cov []float64, cols int) ([]float32, error) {
	c := make([]float64, cols*cols)
	for i := 0; i < cols; i++ {
		for j := 0; j <= i; j++ {
			v := (cov[i*cols+j] + cov[j*cols+i]) / 2
			if t.Smooth != nil {
				v /= float64(t.Smooth[i]) * float64(t.Smooth[j])
			}
			c[i*cols+j] = v
		}
	}
	_, kt, err := SymmetricEigen(c, cols)
	if err != nil {
		return nil, fmt.Errorf("klt: eigendecomposition of the %d×%d input covariance: %v", cols, cols, err)
	}
	// kt = Kᵀ (rows are eigenvectors, by decreasing eigenvalue). Rᵀ =
	// K·diag(signs)·H_bd has as row i the Hadamard transform
	// (H_bd·diag(signs), H_bd symmetric) of row i of K.
	transposeSquare(kt, cols)
	had := &Transform{Kind: RotationHadamard, Signs: t.Signs, Block: t.Block}
	had.rotateRows64(kt, cols, cols) // kt = Rᵀ
	r := make([]float32, cols*cols)
	for i := 0; i < cols; i++ {
		for j := 0; j < cols; j++ {
			r[i*cols+j] = float32(kt[j*cols+i])
		}
	}
	return r, nil
}
