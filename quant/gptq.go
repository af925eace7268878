package quant

import (
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/hyquant/hyquant/internal/finite"
	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// GPTQ is the one-shot second-order quantizer of Frantar et al. (ICLR 2023):
// columns are rounded one at a time and each rounding error is spread over
// the columns not yet rounded, weighted by the inverse Hessian of the layer's
// reconstruction loss ||WX − QX||², H = 2/n·XᵀX.
//
// With U the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), column i is rounded
// to q_i, its error e = (w_i − q_i)/U[i][i] is recorded, and every later
// column j gets w_j −= e·U[i][j]. Updates inside a block of block_size
// columns are applied at once; the rest of the matrix receives the block's
// errors in one matrix product afterwards ("lazy batch" updates), which is
// the same arithmetic in a cache-friendly order.
//
// Options:
//
//	damp           fraction of mean(diag H) added to the diagonal (default 0.01)
//	act_order      round columns in order of decreasing diag H (default false)
//	static_groups  with group:N, fix every group's scale on the original W
//	               before any rounding (default false)
//	block_size     columns per lazy-update block (default 128)
//
// Group parameters: per-tensor and per-channel scales come from the whole
// (dead-column-zeroed) W before rounding starts. With group:N and no static
// groups, a group's scale and zero point come from the current, error-updated
// weights of its N columns when its first column is reached; blocks are then
// widened to a multiple of N so a group never straddles a block and all its
// columns are up to date. Because QMatrix groups are consecutive original
// columns, act_order with group:N needs static_groups: true.
type GPTQ struct{}

func init() { Register(GPTQ{}) }

// Defaults of the GPTQ options.
const (
	DefaultDamp      = 0.01
	DefaultBlockSize = 128
	// dampRetries is how many times the damping is multiplied by ten when
	// the damped Hessian still has no Cholesky factorisation.
	dampRetries = 4
)

func (GPTQ) Name() string { return "gptq" }
func (GPTQ) Summary() string {
	return "GPTQ: Hessian-aware rounding with error feedback (needs calibration), 2-8 bits, any granularity"
}
func (GPTQ) Options() []string {
	return []string{"damp", "act_order", "static_groups", "block_size"}
}
func (GPTQ) Aux(Assignment) []safetensors.TensorSpec { return nil }

// MatrixOnly: GPTQ needs the statistics of a linear layer's input.
func (GPTQ) MatrixOnly() bool { return true }

// NeedsCalibration is true: H comes from the layer's inputs.
func (GPTQ) NeedsCalibration(Spec) bool { return true }

// Prepare fills in the defaults and checks the options.
func (GPTQ) Prepare(s *Spec) error {
	if err := CheckBits(s.Bits, 2, 8); err != nil {
		return err
	}
	return prepareGPTQ(s)
}

// prepareGPTQ fills in and checks the GPTQ options of a spec (shared with
// mambaquant's rounding: gptq). damp: 0 means the default.
func prepareGPTQ(s *Spec) error {
	if s.Damp == 0 {
		s.Damp = DefaultDamp
	}
	if !(s.Damp > 0 && s.Damp <= 1) {
		return fmt.Errorf("damp %v is outside (0, 1]: it is the fraction of mean(diag H) added to the diagonal", s.Damp)
	}
	if s.BlockSize == 0 {
		s.BlockSize = DefaultBlockSize
	}
	if s.BlockSize < 1 {
		return fmt.Errorf("block_size %d must be a positive number of columns", s.BlockSize)
	}
	if s.ActOrder && s.Granularity.Kind == grid.PerGroup && !s.StaticGroups {
		return fmt.Errorf("act_order with granularity %s needs static_groups: true (stored groups are consecutive original columns, so their scales must be fixed before the columns are reordered)", s.Granularity)
	}
	return nil
}

// Quantize runs GPTQ on one weight with the Hessian of st.
func (GPTQ) Quantize(w []float32, a Assignment, st *Stats) (*Quantized, error) {
	if err := checkWeights("gptq", w, a); err != nil {
		return nil, err
	}
	if err := checkStats("gptq", a, st); err != nil {
		return nil, err
	}
	q, err := RoundGPTQ(widen(w), st.Hessian(), grid.Grid{Rows: a.Rows, Cols: a.Cols, Granularity: a.Spec.Granularity}, SchemeOf(a.Spec), GPTQOptionsOf(a.Spec, st), a.Param.Name)
	if err != nil {
		return nil, err
	}
	return &Quantized{Q: q}, nil
}

// checkStats reports calibration statistics that cannot serve a layer.
func checkStats(method string, a Assignment, st *Stats) error {
	if st == nil {
		return fmt.Errorf("%s: %s: needs calibration statistics, none given", method, a.Param.Name)
	}
	if st.Cols != a.Cols || len(st.XtX) != a.Cols*a.Cols || len(st.Sum) != a.Cols || len(st.AbsMax) != a.Cols {
		return fmt.Errorf("%s: %s: calibration statistics are for %d inputs (%d XᵀX values), the layer has %d", method, a.Param.Name, st.Cols, len(st.XtX), a.Cols)
	}
	if st.Rows <= 0 {
		return fmt.Errorf("%s: %s: calibration statistics hold no rows (was the layer reached by the calibration pass?)", method, a.Param.Name)
	}
	if i := finite.First(st.XtX); i >= 0 {
		return fmt.Errorf("%s: %s: calibration XᵀX[%d][%d] is %v", method, a.Param.Name, i/a.Cols, i%a.Cols, st.XtX[i])
	}
	return nil
}

// GPTQOptions are the tunables of RoundGPTQ.
type GPTQOptions struct {
	Damp         float64
	ActOrder     bool
	StaticGroups bool
	BlockSize    int
	Products     Products // where the large products run; nil: the host
}

// GPTQOptionsOf reads the GPTQ options of a prepared spec, with the
// products of the device the statistics st came from (st may be nil).
func GPTQOptionsOf(s Spec, st *Stats) GPTQOptions {
	o := GPTQOptions{Damp: s.Damp, ActOrder: s.ActOrder, StaticGroups: s.StaticGroups, BlockSize: s.BlockSize}
	if st != nil {
		o.Products = st.Products
	}
	return o
}

// RoundGPTQ quantises the row-major g.Rows×g.Cols weight w (float64, used
// as scratch) given the Hessian h (g.Cols×g.Cols, also used as scratch).
// name identifies the layer in errors.
func RoundGPTQ(w, h []float64, g grid.Grid, sc grid.Scheme, o GPTQOptions, name string) (*kernels.QMatrix, error) {
	if err := g.Check(); err != nil {
		return nil, fmt.Errorf("gptq: %s: %v", name, err)
	}
	rows, n := g.Rows, g.Cols
	if len(w) != rows*n || len(h) != n*n {
		return nil, fmt.Errorf("gptq: %s: %d weights and %d Hessian values for a %d×%d matrix", name, len(w), len(h), rows, n)
	}
	if o.Damp == 0 {
		o.Damp = DefaultDamp
	}
	if o.BlockSize <= 0 {
		o.BlockSize = DefaultBlockSize
	}
	dynamic := g.Granularity.Kind == grid.PerGroup && !o.StaticGroups
	if o.ActOrder && dynamic {
		return nil, fmt.Errorf("gptq: %s: act_order with %s needs static groups", name, g.Granularity)
	}

	zeroDeadColumns(w, h, rows, n)

	var params []grid.GroupParams
	if !dynamic {
		params = grid.GridParams(w, g, sc)
	} else {
		params = make([]grid.GroupParams, g.NumParams())
	}

	// perm[k] is the original column rounded k-th.
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	if o.ActOrder {
		diag := make([]float64, n)
		for i := range diag {
			diag[i] = h[i*n+i]
		}
		sort.SliceStable(perm, func(a, b int) bool { return diag[perm[a]] > diag[perm[b]] })
		permuteColumns(w, rows, n, perm)
		permuteSym(h, n, perm)
	}

	p := productsOf(o.Products)
	u, err := upperCholeskyOfInverse(h, n, o.Damp, p, name)
	if err != nil {
		return nil, err
	}

	bs := o.BlockSize
	if dynamic {
		gs := g.Granularity.GroupSize
		bs = (bs + gs - 1) / gs * gs
	}
	codes := make([]uint8, rows*n)
	errs := make([]float64, rows*bs)
	blk := make([]float64, rows*bs)
	held, err := holdWeights(p, w, u, rows, n, bs)
	if err != nil {
		return nil, fmt.Errorf("gptq: %s: %w", name, err)
	}
	defer held.Release()
	var bad error
	var badOnce sync.Once
	for i1 := 0; i1 < n; i1 += bs {
		i2 := min(i1+bs, n)
		bw := i2 - i1
		if err := held.Columns(blk[:rows*bw], i1, i2); err != nil {
			return nil, fmt.Errorf("gptq: %s: %w", name, err)
		}
		parallel.For(rows, 1, func(r0, r1 int) {
			for r := r0; r < r1; r++ {
				row := blk[r*bw : (r+1)*bw]
				er := errs[r*bw : (r+1)*bw]
				for i := i1; i < i2; i++ {
					c, li := perm[i], i-i1
					k := g.Index(r, c)
					if dynamic && i%g.Granularity.GroupSize == 0 {
						params[k] = sc.RangeParams(row[li : li+g.Granularity.GroupSize])
					}
					code := sc.Code(row[li], params[k])
					codes[r*n+c] = code
					if e, ok := spreadError(row, er, u[i*n+i1:i*n+i2], li, float64(params[k].Dequant(code))); !ok {
						badOnce.Do(func() {
							bad = fmt.Errorf("gptq: %s: rounding error of row %d, column %d is %v (weights or Hessian not finite)", name, r, c, e)
						})
						return
					}
				}
			}
		})
		if bad != nil {
			return nil, bad
		}
		if i2 < n {
			if err := held.Update(errs[:rows*bw], i1, i2); err != nil {
				return nil, fmt.Errorf("gptq: %s: %w", name, err)
			}
		}
	}
	q, err := grid.BuildQMatrix(codes, params, g, sc)
	if err != nil {
		return nil, fmt.Errorf("gptq: %s: %v", name, err)
	}
	return q, nil
}

// spreadError is GPTQ's error feedback for one column of a row rounded to
// q. row and ur are the lazy block's columns of the row and of U's row for
// that column, li the column's place in the block: the error
// e = (row[li] − q)/U[i][i] is recorded in er[li] and spread over the
// block's later columns, row[j] −= e·ur[j] for j > li. ok is false when e
// is not finite.
func spreadError(row, er, ur []float64, li int, q float64) (e float64, ok bool) {
	e = (row[li] - q) / ur[li]
	if math.IsNaN(e) || math.IsInf(e, 0) {
		return e, false
	}
	er[li] = e
	kernels.SubScaled64(row[li+1:], ur[li+1:], e)
	return e, true
}

// upperCholeskyOfInverse damps h (adding damp·mean(diag h) to its diagonal,
// in place) and returns U, upper triangular with H⁻¹ = UᵀU (row-major n×n).
// If the damped matrix is not positive definite the damping is raised
// tenfold, up to dampRetries times, before giving up.
//
// U is obtained without forming H⁻¹: with J the reversal permutation, the
// Cholesky factorisation J·H·J = L·Lᵀ gives H = V·Vᵀ with V = J·L·J upper
// triangular, so H⁻¹ = V⁻ᵀ·V⁻¹ and U = V⁻¹ = J·L⁻¹·J (the unique upper
// factor with positive diagonal). So only L⁻¹ is needed, which
// choleskyInverseLower computes in one recursive pass.
//
// The large products run on p.
func upperCholeskyOfInverse(h []float64, n int, damp float64, p Products, name string) ([]float64, error) {
	var mean float64
	for i := 0; i < n; i++ {
		mean += h[i*n+i]
	}
	mean /= float64(n)
	diag := make([]float64, n)
	for i := range diag {
		diag[i] = h[i*n+i]
	}
	bases := []int{choleskyBase}
	if n > choleskyBase {
		// If the float32 products of the recursion lose positive
		// definiteness, try all of it in float64 LAPACK (slow) before
		// adding more damping.
		bases = append(bases, n)
	}
	l := make([]float64, n*n)
	d := damp
	for try := 0; try <= dampRetries; try, d = try+1, d*10 {
		for _, base := range bases {
			// The lower triangle of J·(H + d·mean·I)·J, zeros above.
			parallel.For(n, 64, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					row, src := l[i*n:(i+1)*n], h[(n-1-i)*n:]
					for j := 0; j < i; j++ {
						row[j] = src[n-1-j]
					}
					row[i] = diag[n-1-i] + d*mean
					clear(row[i+1:])
				}
			})
			ok, err := inverseCholesky(l, n, base, p)
			if err != nil {
				return nil, fmt.Errorf("gptq: %s: %w", name, err)
			}
			if !ok {
				continue
			}
			u := make([]float64, n*n)
			parallel.For(n, 64, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					src := l[(n-1-i)*n:]
					for j := i; j < n; j++ {
						u[i*n+j] = src[n-1-j]
					}
				}
			})
			for i := 0; i < n; i++ {
				h[i*n+i] = diag[i] + d*mean
			}
			return u, nil
		}
	}
	return nil, fmt.Errorf("gptq: %s: the Hessian is not positive definite even with damping %g·mean(diag H) (%g × the requested %g); the calibration statistics are degenerate", name, d/10, math.Pow(10, dampRetries), damp)
}

// inverseCholesky is choleskyInverseLower of the whole n×n l, where p's
// products run when p is a CholeskyInverter that takes it (base:
// choleskyBase only; the all-LAPACK fallback stays on the host).
func inverseCholesky(l []float64, n, base int, p Products) (bool, error) {
	if inv, is := p.(CholeskyInverter); is && base == choleskyBase {
		done, ok, err := inv.InverseCholesky(l, n, base)
		if err != nil || done {
			return ok, err
		}
	}
	return choleskyInverseLower(l, n, n, base, p)
}

// choleskyBase is the order up to which choleskyInverseLower hands a block
// to LAPACK (gonum's dpotrf and dtrtri, float64).
const choleskyBase = 128

// choleskyInverseLower replaces the n×n symmetric positive definite matrix
// A, given by its lower triangle (row-major, row stride lda, zeros above the
// diagonal), with L⁻¹ where A = L·Lᵀ. It reports false when A is not
// positive definite, and the error of a product on p. Blocks of order up
// to base go to LAPACK whole (base >= n: all in float64); larger ones
// recurse on halves:
//
//	A = [A11 A21ᵀ]   L11 = chol(A11)          L⁻¹ = [L11⁻¹           0   ]
//	    [A21 A22 ]   L21 = A21·L11⁻ᵀ                [−L22⁻¹·L21·L11⁻¹ L22⁻¹]
//	                 L22 = chol(A22 − L21·L21ᵀ)
//
// so all but O(choleskyBase·n²) of the 2n³/3 multiply-adds are four matrix
// products per level. Those run in float32 on kernels.MatMulNT/NN (about
// ten times gonum's float64 dgemm here), with float64 storage and float64
// LAPACK on the diagonal blocks: the result has float32-level accuracy,
// that of the reference implementation's GPU arithmetic, and a 4096-wide
// Hessian takes about a second instead of ten.
func choleskyInverseLower(a []float64, n, lda, base int, p Products) (bool, error) {
	if n <= base {
		return CholeskyInverseBlock(a, n, lda), nil
	}
	k := (n/2 + 63) / 64 * 64 // block boundaries on multiples of 64
	m := n - k
	a11, a21, a22 := a, a[k*lda:], a[k*lda+k:]
	if ok, err := choleskyInverseLower(a11, k, lda, base, p); !ok || err != nil {
		return ok, err
	}
	l11i := narrow(a11, k, k, lda)
	l21 := make([]float32, m*k)
	if err := p.MatMulNT(l21, narrow(a21, m, k, lda), l11i, m, k, k); err != nil { // A21·L11⁻ᵀ
		return false, err
	}
	s := make([]float32, m*m)
	if err := p.MatMulNT(s, l21, l21, m, m, k); err != nil { // L21·L21ᵀ
		return false, err
	}
	parallel.For(m, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := a22[i*lda:]
			for j := 0; j <= i; j++ {
				row[j] -= float64(s[i*m+j])
			}
		}
	})
	if ok, err := choleskyInverseLower(a22, m, lda, base, p); !ok || err != nil {
		return ok, err
	}
	tmp := make([]float32, m*k)
	if err := p.MatMulNN(tmp, l21, l11i, m, k, k); err != nil { // L21·L11⁻¹
		return false, err
	}
	b := s
	if len(b) < m*k {
		b = make([]float32, m*k)
	}
	if err := p.MatMulNN(b, narrow(a22, m, m, lda), tmp, m, k, m); err != nil { // L22⁻¹·L21·L11⁻¹
		return false, err
	}
	parallel.For(m, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			row := a21[i*lda : i*lda+k]
			for j := range row {
				row[j] = -float64(b[i*k+j])
			}
		}
	})
	return true, nil
}

// narrow copies the rows×cols block of a (row stride lda) to float32.
func narrow(a []float64, rows, cols, lda int) []float32 {
	out := make([]float32, rows*cols)
	parallel.For(rows, 64, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for j, v := range a[i*lda : i*lda+cols] {
				out[i*cols+j] = float32(v)
			}
		}
	})
	return out
}

// holdWeights holds w and u for GPTQ's column loop with lazy blocks of bs
// columns: where p's products run when p is a Holder that takes them, else
// on the host.
func holdWeights(p Products, w, u []float64, rows, n, bs int) (Held, error) {
	if h, ok := p.(Holder); ok {
		held, err := h.Hold(w, u, rows, n)
		if err != nil || held != nil {
			return held, err
		}
	}
	return newHostHeld(p, w, u, rows, n, bs), nil
}

// hostHeld holds GPTQ's weights in host memory, float64, and applies each
// lazy block's rounding errors to the columns after it,
// W[:, i2:] −= E·U[i1:i2, i2:] with E the rows×(i2−i1) errors. The product
// runs in float32 on p (the precision of the reference implementation's
// GPU arithmetic), on the host a chunk of rows at a time, elsewhere all
// rows at once, and is subtracted from the float64 weights. Its float32
// scratch is allocated once for all blocks (for an 8B down_proj fresh
// buffers would be 60 GB of zeroing).
type hostHeld struct {
	p             Products
	w, u          []float64
	rows, n       int
	chunk         int
	ub, e32, prod []float32
}

func newHostHeld(p Products, w, u []float64, rows, n, bs int) *hostHeld {
	chunk := rows
	if _, host := p.(HostProducts); host {
		chunk = max(1, min(rows, (8<<20)/max(1, n-bs))) // about 32 MB of products at a time
	}
	rest := max(0, n-bs) // the widest update: after the first block
	return &hostHeld{p: p, w: w, u: u, rows: rows, n: n, chunk: chunk,
		ub: make([]float32, bs*rest), e32: make([]float32, chunk*bs), prod: make([]float32, chunk*rest)}
}

func (l *hostHeld) Columns(dst []float64, i1, i2 int) error {
	bw := i2 - i1
	parallel.For(l.rows, 64, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(dst[r*bw:(r+1)*bw], l.w[r*l.n+i1:r*l.n+i2])
		}
	})
	return nil
}

func (l *hostHeld) Release() {}

func (l *hostHeld) Update(errs []float64, i1, i2 int) error {
	n, rows, u, w := l.n, l.rows, l.u, l.w
	bw, rest := i2-i1, n-i2
	if rest == 0 {
		return nil
	}
	ub := l.ub[:bw*rest]
	parallel.For(bw, 8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for j, v := range u[(i1+i)*n+i2 : (i1+i+1)*n] {
				ub[i*rest+j] = float32(v)
			}
		}
	})
	for r0 := 0; r0 < rows; r0 += l.chunk {
		m := min(l.chunk, rows-r0)
		e32, prod := l.e32[:m*bw], l.prod[:m*rest]
		for i, v := range errs[r0*bw : (r0+m)*bw] {
			e32[i] = float32(v)
		}
		if err := l.p.MatMulNN(prod, e32, ub, m, rest, bw); err != nil {
			return err
		}
		parallel.For(m, 1, func(a, b int) {
			for r := a; r < b; r++ {
				dst := w[(r0+r)*n+i2 : (r0+r+1)*n]
				for j, v := range prod[r*rest : (r+1)*rest] {
					dst[j] -= float64(v)
				}
			}
		})
	}
	return nil
}

// permuteColumns reorders each row of the rows×n matrix w so that new
// column k is old column perm[k].
func permuteColumns(w []float64, rows, n int, perm []int) {
	tmp := make([]float64, n)
	for r := 0; r < rows; r++ {
		row := w[r*n : (r+1)*n]
		for k, c := range perm {
			tmp[k] = row[c]
		}
		copy(row, tmp)
	}
}

// permuteSym reorders the rows and columns of the n×n matrix h by perm.
func permuteSym(h []float64, n int, perm []int) {
	old := append([]float64(nil), h...)
	for a, pa := range perm {
		for b, pb := range perm {
			h[a*n+b] = old[pa*n+pb]
		}
	}
}
