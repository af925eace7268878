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

// Hold keeps a GPTQ run's weights and U on the device when its lazy
// updates (about rows·n²/2 multiply-adds) reach minMACs: each update is
// then one fp64 product there (cuBLAS Dgemm, W[:, i2:] −= E·U[i1:i2, i2:]),
// and only the next block's columns (rows×block) come out and its errors
// go in, not the rows×(n−i2) products the host would subtract (30 GB over
// an 8B down_proj). The arithmetic is that of the host in float64 where
// the host's updates round their products to float32, so the two agree to
// float32 rounding, not bit for bit.
func (p *products) Hold(w, u []float64, rows, n int) (quant.Held, error) {
	if rows*n*n/2 < p.minMACs {
		return nil, nil
	}
	h := &held{dev: p.dev, rows: rows, n: n}
	err := p.dev.Run(func(s *cuda.Stream) error {
		var err error
		if h.w, err = s.Alloc(8 * rows * n); err != nil {
			return err
		}
		if h.u, err = s.Alloc(8 * n * n); err != nil {
			return err
		}
		if err := s.CopyFloat64sIn(h.w, 0, w[:rows*n]); err != nil {
			return err
		}
		return s.CopyFloat64sIn(h.u, 0, u[:n*n])
	})
	if err != nil {
		h.Release()
		return nil, fmt.Errorf("holding GPTQ's %d×%d weights on %s: %w", rows, n, p.dev, err)
	}
	return h, nil
}

// held is a GPTQ run's float64 weights and U on the device, with the
// scratch of one block's columns and errors.
type held struct {
	dev        *cuda.Device
	rows, n    int
	w, u       cuda.Buffer
	cols, errs cuda.Buffer
}

var _ quant.Held = (*held)(nil)

func (h *held) Columns(dst []float64, i1, i2 int) error {
	bw := i2 - i1
	err := h.dev.Run(func(s *cuda.Stream) error {
		if err := s.Grow(&h.cols, 8*h.rows*bw); err != nil {
			return err
		}
		// Columns i1..i2 of the row-major W are the column-major bw×rows
		// block at W+i1 with leading dimension n.
		if err := s.CopyMatrix64(bw, h.rows, h.w.Ptr+uint64(8*i1), h.n, h.cols.Ptr, bw); err != nil {
			return err
		}
		return s.CopyFloat64sOut(dst[:h.rows*bw], h.cols)
	})
	if err != nil {
		return fmt.Errorf("columns %d-%d of GPTQ's weights on %s: %w", i1, i2-1, h.dev, err)
	}
	return nil
}

func (h *held) Update(errs []float64, i1, i2 int) error {
	bw, rest := i2-i1, h.n-i2
	if rest == 0 {
		return nil
	}
	err := h.dev.Run(func(s *cuda.Stream) error {
		if err := s.Grow(&h.errs, 8*h.rows*bw); err != nil {
			return err
		}
		if err := s.CopyFloat64sIn(h.errs, 0, errs[:h.rows*bw]); err != nil {
			return err
		}
		// Row-major W[:, i2:] −= E·U[i1:i2, i2:] is, column-major,
		// C (rest×rows at W+i2, ld n) −= Ub (rest×bw at U+i1·n+i2, ld n) · E (bw×rows, ld bw).
		return s.Dgemm(cuda.NoTrans, cuda.NoTrans, rest, h.rows, bw, -1, h.u.Ptr+uint64(8*(i1*h.n+i2)), h.n, h.errs.Ptr, bw, 1, h.w.Ptr+uint64(8*i2), h.n)
	})
	if err != nil {
		return fmt.Errorf("the update after columns %d-%d of GPTQ's weights on %s: %w", i1, i2-1, h.dev, err)
	}
	return nil
}

func (h *held) Release() {
	h.dev.Run(func(s *cuda.Stream) error {
		for _, b := range []*cuda.Buffer{&h.w, &h.u, &h.cols, &h.errs} {
			s.Free(*b)
			*b = cuda.Buffer{}
		}
		return nil
	})
}
