package quant

import "github.com/hyquant/hyquant/kernels"

// Products computes the large float32 matrix products of GPTQ: the four
// per level of its Cholesky inverse and the lazy-batch updates of the
// weights, which hold nearly all of its flops. Row-major, the shapes and
// semantics of kernels.MatMulNT and kernels.MatMulNN. The host computes
// them unless the calibration statistics say otherwise (Stats.Products:
// runtime/gpu/gpucalib hands out the device that computed them).
type Products interface {
	MatMulNT(c, a, b []float32, m, n, k int) error // C = A·Bᵀ, B n×k
	MatMulNN(c, a, b []float32, m, n, k int) error // C = A·B, B k×n
}

// HostProducts are kernels.MatMulNT and kernels.MatMulNN.
type HostProducts struct{}

func (HostProducts) MatMulNT(c, a, b []float32, m, n, k int) error {
	kernels.MatMulNT(c, a, b, m, n, k)
	return nil
}

func (HostProducts) MatMulNN(c, a, b []float32, m, n, k int) error {
	kernels.MatMulNN(c, a, b, m, n, k)
	return nil
}

// productsOf is p, or the host when p is nil.
func productsOf(p Products) Products {
	if p == nil {
		return HostProducts{}
	}
	return p
}

// Holder is implemented by Products that can keep a GPTQ run's weights and
// U where their products run: the lazy updates W[:, i2:] −= E·U[i1:i2, i2:]
// then never cross to the host; only each block's columns come out and its
// rounding errors go in. Hold returns a nil Held (and no error) when the
// matrix is too small to be worth it; the host then holds the weights.
type Holder interface {
	Hold(w, u []float64, rows, n int) (Held, error)
}

// Held is the weights of one GPTQ run (rows×n, row-major) with the upper
// Cholesky factor U of H⁻¹ (n×n), held for the column loop.
type Held interface {
	// Columns copies columns i1..i2 of the current weights to dst
	// (rows×(i2−i1), row-major).
	Columns(dst []float64, i1, i2 int) error
	// Update applies the rounding errors errs (rows×(i2−i1)) of columns
	// i1..i2 to the columns after i2.
	Update(errs []float64, i1, i2 int) error
	// Release frees what Hold took.
	Release()
}
