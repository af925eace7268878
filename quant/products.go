package quant

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"

	"github.com/hyquant/hyquant/kernels"
)

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

// CholeskyInverter is implemented by Products that can run the whole
// recursion of GPTQ's Cholesky inverse where their products run, in
// float64: InverseCholesky replaces the n×n symmetric positive definite
// matrix A, given by its lower triangle (row-major, zeros above the
// diagonal), with L⁻¹ where A = L·Lᵀ, and reports false when A is not
// positive definite. The diagonal blocks of order up to base go to
// CholeskyInverseBlock, the host's LAPACK. ok is true and err nil with
// done false when the matrix is too small to be worth it: the host then
// computes it.
type CholeskyInverter interface {
	InverseCholesky(a []float64, n, base int) (done, ok bool, err error)
}

// CholeskyInverseBlock is the base case of GPTQ's Cholesky inverse: the
// lower triangle of the n×n block of a (row stride lda) becomes L⁻¹ with
// A = L·Lᵀ (float64 LAPACK, gonum's dpotrf and dtrtri); false when the
// block is not positive definite.
func CholeskyInverseBlock(a []float64, n, lda int) bool {
	if _, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Lower, N: n, Stride: lda, Data: a}); !ok {
		return false
	}
	return lapack64.Trtri(blas64.Triangular{Uplo: blas.Lower, Diag: blas.NonUnit, N: n, Stride: lda, Data: a})
}
