package gpucalib

import (
	"fmt"

	"github.com/hyquant/hyquant/kernels/cuda"
	"github.com/hyquant/hyquant/quant"
)

// deviceMinMACs is the smallest product (m·n·k multiply-adds) sent to the
// device: below it the copies cost more than the host's arithmetic.
const deviceMinMACs = 1 << 26

// products computes GPTQ's large float32 products with cuBLAS (plain fp32
// math, as the host's) and leaves small ones to the host. Its three device
// buffers grow to the largest product seen and live until close.
type products struct {
	dev     *cuda.Device
	minMACs int
	a, b, c cuda.Buffer
}

var _ quant.Products = (*products)(nil)

func (p *products) MatMulNT(c, a, b []float32, m, n, k int) error {
	if m*n*k < p.minMACs {
		return quant.HostProducts{}.MatMulNT(c, a, b, m, n, k)
	}
	// C = A·Bᵀ is LinearRows with A as the rows and B as the weight.
	return p.run(c, a, b, m, n, k, func(s *cuda.Stream) error {
		return s.LinearRows(p.c.Ptr, p.a.Ptr, p.b.Ptr, m, n, k, false)
	})
}

func (p *products) MatMulNN(c, a, b []float32, m, n, k int) error {
	if m*n*k < p.minMACs {
		return quant.HostProducts{}.MatMulNN(c, a, b, m, n, k)
	}
	// Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ.
	return p.run(c, a, b, m, n, k, func(s *cuda.Stream) error {
		return s.Sgemm(cuda.NoTrans, cuda.NoTrans, n, m, k, 1, p.b.Ptr, n, p.a.Ptr, k, 0, p.c.Ptr, n)
	})
}

// run copies A (m×k) and B (k·n values) in, runs gemm and copies C (m×n) out.
func (p *products) run(c, a, b []float32, m, n, k int, gemm func(s *cuda.Stream) error) error {
	err := p.dev.Run(func(s *cuda.Stream) error {
		if err := s.Grow(&p.a, 4*m*k); err != nil {
			return err
		}
		if err := s.Grow(&p.b, 4*n*k); err != nil {
			return err
		}
		if err := s.Grow(&p.c, 4*m*n); err != nil {
			return err
		}
		if err := s.CopyFloatsIn(p.a, 0, a[:m*k]); err != nil {
			return err
		}
		if err := s.CopyFloatsIn(p.b, 0, b[:n*k]); err != nil {
			return err
		}
		if err := gemm(s); err != nil {
			return err
		}
		return s.CopyFloatsOut(c[:m*n], p.c, 0)
	})
	if err != nil {
		return fmt.Errorf("a %d×%d×%d product of GPTQ on %s: %w", m, n, k, p.dev, err)
	}
	return nil
}

func (p *products) close() {
	p.dev.Run(func(s *cuda.Stream) error {
		for _, b := range []*cuda.Buffer{&p.a, &p.b, &p.c} {
			s.Free(*b)
			*b = cuda.Buffer{}
		}
		return nil
	})
}
