// Package rotation rotates a model's residual stream by one orthogonal
// matrix and fuses the rotation into the weights (the exact, zero-cost
// rotation QuaRot and SpinQuant call R1). The rotated model computes the
// same function as the original, up to float rounding, and is an ordinary
// checkpoint: every engine runs it, and it exports to GGUF. What changes is
// how the weights quantise: the rotation spreads the residual stream's few
// outlier channels over all channels, so the projections that read and
// write the stream have flatter rows and columns.
package rotation

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/hyquant/hyquant/kernels"
)

// Kinds of residual rotation.
const (
	// Hadamard is Q = H·diag(s): H the orthonormal Sylvester Hadamard
	// matrix, s seeded random signs. Needs a power-of-two width.
	Hadamard = "hadamard"
	// Orthogonal is a seeded random orthogonal matrix (Haar distributed:
	// the Q factor of a Gaussian matrix, signs fixed by R's diagonal).
	Orthogonal = "orthogonal"
	// Auto is Hadamard where the width is a power of two, else Orthogonal.
	Auto = "auto"
)

// Residual is the orthogonal matrix Q (N×N) that the residual stream is
// rotated by: every hidden state h becomes Q·h.
type Residual struct {
	Kind   string
	N      int
	Signs  []float32 // Hadamard: the random signs s
	Matrix []float32 // Orthogonal: Q, row-major
}

// New builds the rotation of kind for width n from seed.
func New(kind string, n int, seed int64) (*Residual, error) {
	if n <= 0 {
		return nil, fmt.Errorf("residual rotation: width %d is not positive", n)
	}
	pow2 := n&(n-1) == 0
	switch kind {
	case Auto:
		kind = Orthogonal
		if pow2 {
			kind = Hadamard
		}
	case Hadamard:
		if !pow2 {
			return nil, fmt.Errorf("residual rotation: a Hadamard rotation needs a power-of-two width, the hidden size is %d (use kind %s or %s)", n, Orthogonal, Auto)
		}
	case Orthogonal:
	default:
		return nil, fmt.Errorf("residual rotation: kind %q is not %s, %s or %s", kind, Hadamard, Orthogonal, Auto)
	}
	rng := newRand(seed, kind, n)
	r := &Residual{Kind: kind, N: n}
	if kind == Hadamard {
		r.Signs = make([]float32, n)
		for i := range r.Signs {
			r.Signs[i] = 1
			if rng.Uint64()&1 == 1 {
				r.Signs[i] = -1
			}
		}
		return r, nil
	}
	r.Matrix = haarOrthogonal(rng, n)
	return r, nil
}

func newRand(seed int64, kind string, n int) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprintf(h, "residual %s %d", kind, n)
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

// haarOrthogonal draws an n×n orthogonal matrix from the Haar measure:
// the Q of the QR factorisation of a standard Gaussian matrix, each column
// multiplied by the sign of R's diagonal entry (Mezzadri 2007). Computed in
// float64, stored in float32.
func haarOrthogonal(rng *rand.Rand, n int) []float32 {
	g := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q, r mat.Dense
	qr.QTo(&q)
	qr.RTo(&r)
	out := make([]float32, n*n)
	for j := 0; j < n; j++ {
		s := 1.0
		if r.At(j, j) < 0 {
			s = -1
		}
		for i := 0; i < n; i++ {
			out[i*n+j] = float32(s * q.At(i, j))
		}
	}
	return out
}

// RotateRows replaces each of the rows of x (rows×N, row-major) by Q·row.
func (r *Residual) RotateRows(x []float32, rows int) {
	n := r.N
	if len(x) < rows*n {
		panic(fmt.Sprintf("rotation.RotateRows: %d rows of %d need %d values, have %d", rows, n, rows*n, len(x)))
	}
	x = x[:rows*n]
	if r.Kind == Hadamard {
		for i, v := range x {
			x[i] = v * r.Signs[i%n]
		}
		kernels.FWHTRows(x, rows, n)
		return
	}
	// Rows of x·Qᵀ are the rows Q·row.
	out := make([]float32, rows*n)
	kernels.MatMulNT(out, x, r.Matrix, rows, n, n)
	copy(x, out)
}

// RotateColumns replaces each column c of the N×cols matrix w (row-major)
// by Q·c: w becomes Q·w.
func (r *Residual) RotateColumns(w []float32, cols int) {
	n := r.N
	t := transpose(w, n, cols)
	r.RotateRows(t, cols)
	copy(w, transpose(t, cols, n))
}

// transpose returns the cols×rows transpose of the rows×cols matrix a.
func transpose(a []float32, rows, cols int) []float32 {
	t := make([]float32, rows*cols)
	for i := 0; i < rows; i++ {
		for j, v := range a[i*cols : (i+1)*cols] {
			t[j*rows+i] = v
		}
	}
	return t
}

// Dense returns Q as a dense row-major N×N float64 matrix (for tests and
// reports).
func (r *Residual) Dense() []float64 {
	n := r.N
	e := make([]float32, n*n)
	for i := 0; i < n; i++ {
		e[i*n+i] = 1
	}
	// Columns of Q are Q·e_i: rotate the identity's columns.
	r.RotateColumns(e, n)
	out := make([]float64, n*n)
	for i, v := range e {
		out[i] = float64(v)
	}
	return out
}

// orthogonalityError is max |QᵀQ − I| (a check for tests).
func orthogonalityError(q []float64, n int) float64 {
	worst := 0.0
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for k := 0; k < n; k++ {
				s += q[k*n+i] * q[k*n+j]
			}
			if i == j {
				s--
			}
			worst = math.Max(worst, math.Abs(s))
		}
	}
	return worst
}
