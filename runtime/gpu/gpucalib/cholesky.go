package gpucalib

import (
	"fmt"

	"github.com/hyquant/hyquant/kernels/cuda"
	"github.com/hyquant/hyquant/quant"
)

var _ quant.CholeskyInverter = (*products)(nil)

// InverseCholesky runs GPTQ's recursive Cholesky inverse on the device
// when its products (about n³/3 multiply-adds) reach minMACs: the matrix
// goes up once and L⁻¹ comes back once, the products are cuBLAS fp64
// (Dgemm, and Dsyrk for the Schur complement's lower triangle), and only
// the diagonal blocks of order up to base visit the host's LAPACK. The
// host's recursion instead copies every operand of its float32 products
// both ways (about 11 GB for an 8B down_proj's 21,504 columns); this one
// computes in float64 throughout, so the two agree to float32 rounding.
func (p *products) InverseCholesky(a []float64, n, base int) (done, ok bool, err error) {
	if n*n*n/3 < p.minMACs || n <= base {
		return false, true, nil
	}
	c := &cholesky{base: base, host: make([]float64, base*base)}
	err = p.dev.Run(func(s *cuda.Stream) error {
		c.s = s
		defer c.free()
		var err error
		if c.a, err = s.Alloc(8 * n * n); err != nil {
			return err
		}
		k := split(n)
		if c.t, err = s.Alloc(8 * max(k*(n-k), base*base)); err != nil {
			return err
		}
		if err := s.CopyFloat64sIn(c.a, 0, a[:n*n]); err != nil {
			return err
		}
		if ok, err = c.invert(c.a.Ptr, n, n); err != nil || !ok {
			return err
		}
		return s.CopyFloat64sOut(a[:n*n], c.a)
	})
	if err != nil {
		return true, false, fmt.Errorf("the %d×%d Cholesky inverse of GPTQ on %s: %w", n, n, p.dev, err)
	}
	return true, ok, nil
}

// cholesky is one run of the device recursion: the matrix a, the scratch
// t (the largest off-diagonal block, also a base block's staging) and the
// host's copy of a base block.
type cholesky struct {
	s    *cuda.Stream
	base int
	a, t cuda.Buffer
	host []float64
}

func (c *cholesky) free() {
	c.s.Free(c.a)
	c.s.Free(c.t)
}

// split is where the recursion cuts a matrix of order n (on a multiple of
// 64, as the host's).
func split(n int) int { return (n/2 + 63) / 64 * 64 }

// rowGemm is the row-major C = alpha·op(A)·op(B) + beta·C (C m×n) as
// cuBLAS's column-major product of the transposes, Cᵀ = op(B)ᵀ·op(A)ᵀ.
func rowGemm(s *cuda.Stream, ta, tb, m, n, k int, alpha float64, a uint64, lda int, b uint64, ldb int, beta float64, c uint64, ldc int) error {
	return s.Dgemm(tb, ta, n, m, k, alpha, b, ldb, a, lda, beta, c, ldc)
}

// invert replaces the lower triangle of the row-major n×n block at a (row
// stride lda, zeros above the diagonal) with its Cholesky factor's
// inverse, as quant's host recursion does:
//
//	L11⁻¹ = invert(A11)     L21 = A21·L11⁻ᵀ     A22 −= L21·L21ᵀ
//	L22⁻¹ = invert(A22)     A21 ← −L22⁻¹·(L21·L11⁻¹)
func (c *cholesky) invert(a uint64, n, lda int) (bool, error) {
	s := c.s
	if n <= c.base {
		return c.baseBlock(a, n, lda)
	}
	k := split(n)
	m := n - k
	a11, a21, a22 := a, a+uint64(8*k*lda), a+uint64(8*(k*lda+k))
	if ok, err := c.invert(a11, k, lda); !ok || err != nil {
		return ok, err
	}
	t := c.t.Ptr // L21 = A21·L11⁻ᵀ, m×k with row stride k
	if err := rowGemm(s, cuda.NoTrans, cuda.Trans, m, k, k, 1, a21, lda, a11, lda, 0, t, k); err != nil {
		return false, err
	}
	// The row-major lower triangle of A22 is the column-major upper one;
	// L21 (row-major m×k) is column-major k×m, so L21·L21ᵀ is its
	// transpose times itself.
	if err := s.Dsyrk(cuda.Upper, cuda.Trans, m, k, -1, t, k, 1, a22, lda); err != nil {
		return false, err
	}
	if err := rowGemm(s, cuda.NoTrans, cuda.NoTrans, m, k, k, 1, t, k, a11, lda, 0, a21, lda); err != nil { // L21·L11⁻¹ into A21
		return false, err
	}
	if ok, err := c.invert(a22, m, lda); !ok || err != nil {
		return ok, err
	}
	if err := s.CopyMatrix64(k, m, a21, lda, t, k); err != nil {
		return false, err
	}
	return true, rowGemm(s, cuda.NoTrans, cuda.NoTrans, m, k, m, -1, a22, lda, t, k, 0, a21, lda)
}

// baseBlock brings the n×n diagonal block at a to the host, inverts its
// Cholesky factor there (quant.CholeskyInverseBlock) and puts it back.
func (c *cholesky) baseBlock(a uint64, n, lda int) (bool, error) {
	s, h := c.s, c.host[:n*n]
	if err := s.CopyMatrix64(n, n, a, lda, c.t.Ptr, n); err != nil {
		return false, err
	}
	if err := s.CopyFloat64sOut(h, c.t); err != nil {
		return false, err
	}
	if !quant.CholeskyInverseBlock(h, n, n) {
		return false, nil
	}
	if err := s.CopyFloat64sIn(c.t, 0, h); err != nil {
		return false, err
	}
	return true, s.CopyMatrix64(n, n, c.t.Ptr, n, a, lda)
}
