package quant

import (
	"fmt"

	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/kernels/ggml"
)

// Stats are the calibration statistics of one linear layer's input,
// gathered by running the real forward pass over calibration text (see
// calib.Collector). Memory is bounded: Cols² float64 for XtX, nothing per token.
type Stats struct {
	Name string // the layer's weight name
	Cols int    // input width
	Rows int64  // input rows (tokens) observed

	XtX    []float64 // Cols×Cols row-major: sum over rows of x·xᵀ
	Sum    []float64 // Cols: sum over rows of x
	AbsMax []float32 // Cols: max over rows of |x|

	// Products, when set, is where GPTQ's large products run: the device
	// that computed these statistics (nil: the host).
	Products Products
}

// NewStats allocates empty statistics for a layer of the given input width.
func NewStats(name string, cols int) *Stats {
	return &Stats{Name: name, Cols: cols, XtX: make([]float64, cols*cols), Sum: make([]float64, cols), AbsMax: make([]float32, cols)}
}

// Hessian returns GPTQ's H = 2/n · XᵀX (a new Cols×Cols slice).
func (s *Stats) Hessian() []float64 {
	h := make([]float64, len(s.XtX))
	if s.Rows == 0 {
		return h
	}
	f := 2 / float64(s.Rows)
	parallel.For(len(h), scanChunk, func(lo, hi int) {
		for i, v := range s.XtX[lo:hi] {
			h[lo+i] = f * v
		}
	})
	return h
}

// Covariance returns the input covariance XᵀX/n - μμᵀ (a new Cols×Cols slice).
func (s *Stats) Covariance() []float64 {
	c := make([]float64, len(s.XtX))
	if s.Rows == 0 {
		return c
	}
	n := float64(s.Rows)
	for i := 0; i < s.Cols; i++ {
		mi := s.Sum[i] / n
		for j := 0; j < s.Cols; j++ {
			c[i*s.Cols+j] = s.XtX[i*s.Cols+j]/n - mi*s.Sum[j]/n
		}
	}
	return c
}

// Quantized is one quantised weight: its packed codes and, for rotation
// methods, the transform applied to the layer's input at run time.
type Quantized struct {
	Q *kernels.QMatrix
	// Blocks holds the weight in a llama.cpp block type instead of Q (method
	// ggml): Rows rows of BlockType.RowBytes(Cols) bytes.
	Blocks     []byte
	BlockType  ggml.Type
	Rows, Cols int // the shape of Blocks (Q carries its own)
	// Transform is nil when the layer sees its input unchanged. Otherwise the
	// layer computes Q·T(x), with Q quantised from W·T⁻¹ so that, before
	// rounding, Q·T(x) = W·x exactly.
	Transform *Transform
}

// Shape is the weight's rows (outputs) and columns (inputs).
func (q *Quantized) Shape() (rows, cols int) {
	if q.Q != nil {
		return q.Q.Rows, q.Q.Cols
	}
	return q.Rows, q.Cols
}

// Dequantize returns the weight the quantised form stands for.
func (q *Quantized) Dequantize() ([]float32, error) {
	if q.Q != nil {
		return q.Q.Dequantize(), nil
	}
	w := make([]float32, q.Rows*q.Cols)
	return w, q.BlockType.Dequantize(w, q.Blocks)
}

// Transform is an invertible input transform x -> R·(x ⊘ s): optional
// smoothing divisors s, then an orthogonal rotation R (a randomised
// block-diagonal Hadamard, or a KLT-enhanced rotation given as a matrix).
type Transform struct {
	Kind   string    // "hadamard" or "klt"
	Smooth []float32 // per input channel divisors; nil for none
	Signs  []float32 // Hadamard: random ±1 per input channel, applied before the transform
	Block  int       // Hadamard: block size of the block-diagonal transform
	Matrix []float32 // KLT: Cols×Cols orthogonal matrix R (row-major), y = R·x
}

// Linear builds the kernel for a quantised projection: the packed codes,
// behind activation fake-quantisation (of the input the codes see, so after
// the transform) when s asks for it, behind the input transform.
func (q *Quantized) Linear(s Spec, actScale float32, bias []float32) (kernels.Linear, error) {
	l, err := q.weightLinear(bias)
	if err != nil {
		return nil, err
	}
	if s.ActBits > 0 {
		if l, err = NewActQuantScale(l, s.ActBits, s.ActMode, actScale); err != nil {
			return nil, err
		}
	}
	if q.Transform != nil {
		return NewRotatedLinear(q.Transform, l)
	}
	return l, nil
}

// weightLinear is the projection on the stored form alone: hyquant's
// packed codes, or llama.cpp blocks through their Format.
func (q *Quantized) weightLinear(bias []float32) (kernels.Linear, error) {
	if q.Blocks == nil {
		ql, err := kernels.NewQLinear(q.Q, bias)
		if err != nil {
			return nil, err
		}
		return ql, nil
	}
	f, ok := ggml.Format(q.BlockType)
	if !ok {
		return nil, fmt.Errorf("ggml type %s cannot be computed with", q.BlockType)
	}
	dl, err := kernels.NewFormatLinear(f, q.Blocks, q.Rows, q.Cols, bias)
	if err != nil {
		return nil, err
	}
	return dl, nil
}
