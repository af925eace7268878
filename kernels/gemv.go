package kernels

import "sync"

// The GEMV path: for a handful of rows of A (token-by-token use) packing B
// into panels costs more than the multiplication itself, and the transposing
// packers read each weight row in short runs. Instead, four weight rows at
// a time are read in their stored order and multiplied with up to four rows
// of A by a dot-product kernel that widens float32, bf16 or fp16 weights in
// registers; integer codes are first dequantised into an L1-resident
// float32 buffer. Every weight byte is read once, in sequence. The path exists with AVX-512 only; elsewhere, and for Dense
// (whose pre-packed panels already stream at memory speed), the GEMM driver
// handles few rows too.

// gemvMaxRows is the number of rows of A up to which the GEMV path is used.
const gemvMaxRows = 4

// gemvKC is the length of the runs of weight rows taken at a time: four of
// them dequantised (32 KiB) stay in L1 while the dot products read them.
const gemvKC = 2048

// rowSource is a bOperand that can also take part in the GEMV path.
type rowSource interface {
	// dot4 sets res[r*4+i] = Σ_{p<kc} B[j+r][p0+p]·x[i][p] for r < cnt <= 4
	// and i < 4 (entries for r >= cnt are meaningless). buf has room for
	// 4·kc floats.
	dot4(buf []float32, j, cnt, p0, kc int, x *[4]*float32, res *[16]float32)
}

// gemv computes C[m×n] = A[m×k]·Bᵀ (+ bias) like gemm, for m <= gemvMaxRows,
// and reports whether it did (false without AVX-512).
func gemv(c []float32, ldc int, a []float32, lda int, b rowSource, m, n, k int, bias []float32) bool {
	if m < 1 || m > gemvMaxRows || n == 0 || k == 0 || !gemvAvailable() {
		return false
	}
	t := threads()
	if 2*m*n*k < serialFlops {
		t = 1
	}
	t = min(t, ceilDiv(n, 4))
	var wg sync.WaitGroup
	for r := 1; r < t; r++ {
		j0, j1 := span(r, t, n, 4)
		wg.Add(1)
		go func() {
			defer wg.Done()
			gemvRows(c, ldc, a, lda, b, m, j0, j1, k, bias)
		}()
	}
	j0, j1 := span(0, t, n, 4)
	gemvRows(c, ldc, a, lda, b, m, j0, j1, k, bias)
	wg.Wait()
	return true
}

var gemvBuffers = sync.Pool{New: func() any { return &[4 * gemvKC]float32{} }}

// gemvRows computes columns j0…j1-1 of C.
func gemvRows(c []float32, ldc int, a []float32, lda int, b rowSource, m, j0, j1, k int, bias []float32) {
	buf := gemvBuffers.Get().(*[4 * gemvKC]float32)
	defer gemvBuffers.Put(buf)
	var res [16]float32
	var xp [4]*float32
	for j := j0; j < j1; j += 4 {
		cnt := min(4, j1-j)
		for p0 := 0; p0 < k; p0 += gemvKC {
			kc := min(gemvKC, k-p0)
			for i := range xp {
				xp[i] = &a[min(i, m-1)*lda+p0] // missing rows repeat the last
			}
			b.dot4(buf[:], j, cnt, p0, kc, &xp, &res)
			for i := 0; i < m; i++ {
				row := c[i*ldc+j : i*ldc+j+cnt]
				for r := range row {
					if p0 == 0 {
						row[r] = res[r*4+i]
					} else {
						row[r] += res[r*4+i]
					}
				}
			}
		}
		if bias != nil {
			for i := 0; i < m; i++ {
				row := c[i*ldc+j : i*ldc+j+cnt]
				for r := range row {
					row[r] += bias[j+r]
				}
			}
		}
	}
}

func (r rawNT) dot4(_ []float32, j, cnt, p0, kc int, x *[4]*float32, res *[16]float32) {
	var w [4]*float32
	for i := range w {
		w[i] = &r.b[(j+min(i, cnt-1))*r.ldb+p0] // missing rows repeat the last
	}
	gemvF32(kc, &w, x, res)
}

func (o half16Operand) dot4(_ []float32, j, cnt, p0, kc int, x *[4]*float32, res *[16]float32) {
	var w [4]*byte
	for i := range w {
		w[i] = &o.raw[2*((j+min(i, cnt-1))*o.in+p0)]
	}
	gemvHalf(kc, &w, x, res, o.fp16)
}

// dot4 dequantises the rows into buf, one run of columns sharing a scale at
// a time, then takes the float32 dot products.
func (o qOperand) dot4(buf []float32, j, cnt, p0, kc int, x *[4]*float32, res *[16]float32) {
	q := o.q
	rb := q.RowBytes()
	var w [4]*float32
	for r := 0; r < 4; r++ {
		if r >= cnt {
			w[r] = w[cnt-1]
			continue
		}
		w[r] = &buf[r*kc]
		if dequantRowAsm(buf[r*kc:(r+1)*kc], q, j+r, p0) {
			continue
		}
		row := q.Codes[(j+r)*rb : (j+r+1)*rb]
		for p := p0; p < p0+kc; {
			g := q.scaleIndex(j+r, p)
			end := p0 + kc
			if !q.PerTensor {
				end = min(end, (p/q.GroupSize+1)*q.GroupSize)
			}
			dequantRun(buf[r*kc+p-p0:r*kc+end-p0], 1, row, p, end-p, q.Bits, q.Scales[g], q.zero(g))
			p = end
		}
	}
	gemvF32(kc, &w, x, res)
}
