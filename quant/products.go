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
