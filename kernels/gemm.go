package kernels

import (
	"fmt"
	"sync"
	"unsafe"
)

// This file holds the blocked, multi-threaded GEMM driver shared by MatMulNT,
// MatMulNN and every Linear. It follows the GotoBLAS/BLIS structure:
//
//	for each kc-slice of the reduction dimension:
//	    for each nc-wide block of this goroutine's columns:
//	        obtain the B block as nr-wide micro-panels             (stays in L2)
//	        for each mr rows of A (mr×kc floats):                  (stay in L1)
//	            for each B micro-panel: micro-kernel on an mr×nr tile of C
//
// A (the activations, already float32) is not packed: the micro-kernels
// broadcast its elements straight from its rows, which costs nothing more
// than reading a packed copy. Only a last partial group of rows is copied,
// zero-padded, into a small buffer.
// B is the weight operand: a bOperand converts it from its storage format
// (float32, bf16, fp16, packed integer codes) while packing, once per block,
// or hands out panels packed ahead of time (Dense). Each goroutine owns a
// rectangle of C, so B is converted once in total when the split is by
// columns, which the partitioner prefers.

// microKernel is a register-blocked kernel computing one mr×nr tile of C.
type microKernel struct {
	isa    ISA
	mr, nr int
	// kc and nc are the cache-blocking sizes used with this kernel: the
	// reduction slice (A micro-panel kc×mr in L1) and the width of a B block
	// (kc×nc floats in L2).
	kc, nc int
	// fn computes the tile C[0:mr, 0:nr] (row stride ldc floats) = a·b, or
	// C += a·b when accumulate != 0; a is mr rows of kc floats (row stride
	// lda floats), b is kc rows of nr floats (a packed micro-panel).
	fn func(kc int, a *float32, lda int, b, c *float32, ldc int, accumulate int)
}

// microKernels holds the kernel of each ISA level this build has; the
// per-architecture files fill the entries above Portable.
var microKernels = [...]*microKernel{
	Portable: {isa: Portable, mr: 4, nr: 4, kc: 256, nc: 256, fn: kernelGo4x4},
	AVX2:     nil,
	AVX512:   nil,
}

// kernelFor returns the fastest kernel available at or below level isa.
func kernelFor(isa ISA) *microKernel {
	for isa > Portable && microKernels[isa] == nil {
		isa--
	}
	return microKernels[isa]
}

// currentKernel is the kernel for CurrentISA.
func currentKernel() *microKernel { return kernelFor(CurrentISA()) }

// bOperand supplies the right operand B (n×k, for C = A·Bᵀ) to the driver.
type bOperand interface {
	// block returns micro-panels holding B[j0:j0+nc, p0:p0+kc]ᵀ for kernel
	// width nr: the panel of columns j0+q·nr … j0+q·nr+nr-1 starts at
	// panels[q*stride] and is kc rows of nr floats; columns at or past n are
	// zero. j0 is a multiple of nr. buf has room for ceil(nc/nr)·kc·nr floats
	// and may be packed into.
	block(buf []float32, nr, j0, nc, p0, kc int) (panels []float32, stride int)
}

// panelPacker is a bOperand converted one micro-panel at a time.
type panelPacker interface {
	// packPanel writes B[j0:j0+w, p0:p0+kc]ᵀ into dst (kc rows of nr floats)
	// and zeroes columns w…nr-1; 1 <= w <= nr.
	packPanel(dst []float32, nr, j0, w, p0, kc int)
}

// packBlock implements bOperand.block for a panelPacker.
func packBlock(pp panelPacker, buf []float32, nr, j0, nc, p0, kc int) ([]float32, int) {
	stride := kc * nr
	for q := 0; q*nr < nc; q++ {
		w := min(nr, nc-q*nr)
		pp.packPanel(buf[q*stride:(q+1)*stride], nr, j0+q*nr, w, p0, kc)
	}
	return buf, stride
}

// MatMulNT computes C = A·Bᵀ for row-major A (m×k), B (n×k) and C (m×n),
// overwriting C. It uses all GOMAXPROCS threads (see SetThreads) and the
// fastest kernel of CurrentISA. It panics if a slice is too short.
func MatMulNT(c, a, b []float32, m, n, k int) {
	checkGemm("MatMulNT", c, a, b, m, n, k)
	gemm(currentKernel(), c, n, a, k, rawNT{b: b, ldb: k}, m, n, k, nil)
}

// MatMulNN computes C = A·B for row-major A (m×k), B (k×n) and C (m×n),
// overwriting C; otherwise as MatMulNT.
func MatMulNN(c, a, b []float32, m, n, k int) {
	checkGemm("MatMulNN", c, a, b, m, n, k)
	gemm(currentKernel(), c, n, a, k, rawNN{b: b, ldb: n}, m, n, k, nil)
}

func checkGemm(op string, c, a, b []float32, m, n, k int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels.%s: negative size m=%d n=%d k=%d", op, m, n, k))
	}
	if len(a) < m*k || len(b) < n*k || len(c) < m*n {
		panic(fmt.Sprintf("kernels.%s: m=%d n=%d k=%d needs len(a)>=%d len(b)>=%d len(c)>=%d, have %d %d %d",
			op, m, n, k, m*k, n*k, m*n, len(a), len(b), len(c)))
	}
}

// rawNT is a float32 B stored row-major n×k (row stride ldb).
type rawNT struct {
	b   []float32
	ldb int
}

func (r rawNT) block(buf []float32, nr, j0, nc, p0, kc int) ([]float32, int) {
	return packBlock(r, buf, nr, j0, nc, p0, kc)
}

func (r rawNT) packPanel(dst []float32, nr, j0, w, p0, kc int) {
	packTransposed(dst, nr, r.b[j0*r.ldb+p0:], r.ldb, w, kc)
}

// rawNN is a float32 B stored row-major k×n (row stride ldb), i.e. Bᵀ of the
// NT convention: its panels are plain copies.
type rawNN struct {
	b   []float32
	ldb int
}

func (r rawNN) block(buf []float32, nr, j0, nc, p0, kc int) ([]float32, int) {
	return packBlock(r, buf, nr, j0, nc, p0, kc)
}

func (r rawNN) packPanel(dst []float32, nr, j0, w, p0, kc int) {
	for p := 0; p < kc; p++ {
		d := dst[p*nr : p*nr+nr]
		copy(d, r.b[(p0+p)*r.ldb+j0:(p0+p)*r.ldb+j0+w])
		clear(d[w:])
	}
}

// packTransposed writes the w×kc row-major block src (row stride lds) into
// dst as kc rows of nr floats (dst[p*nr+j] = src[j*lds+p]), zeroing columns
// w…nr-1. Whole 16×16 tiles go through packT16 (assembly when available).
func packTransposed(dst []float32, nr int, src []float32, lds, w, kc int) {
	rows, cols := packT16(dst, nr, src, lds, w, kc)
	for j := 0; j < w; j++ {
		p0 := 0
		if j < rows {
			p0 = cols
		}
		for p, v := range src[j*lds+p0 : j*lds+kc] {
			dst[(p0+p)*nr+j] = v
		}
	}
	zeroColumns(dst, nr, w, kc)
}

// workspace is one goroutine's packing buffers, 64-byte aligned.
type workspace struct {
	a, b, c []float32
}

var workspaces sync.Pool

func getWorkspace(na, nb, nc int) *workspace {
	ws, _ := workspaces.Get().(*workspace)
	if ws == nil {
		ws = new(workspace)
	}
	ws.a = growAligned(ws.a, na)
	ws.b = growAligned(ws.b, nb)
	ws.c = growAligned(ws.c, nc)
	return ws
}

// growAligned returns s if it can hold n floats, else a new 64-byte aligned
// slice of length n.
func growAligned(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return alignedFloats(n)
}

// alignedFloats allocates n float32s starting on a 64-byte (cache line and
// ZMM) boundary.
func alignedFloats(n int) []float32 {
	s := make([]float32, n+16)
	off := int((64-uintptr(unsafe.Pointer(&s[0]))&63)&63) / 4
	return s[off : off+n : off+n]
}

// serialFlops is the problem size (2·m·n·k) below which a GEMM runs on the
// calling goroutine alone: starting goroutines costs a few microseconds.
const serialFlops = 1 << 20

// gemm computes C[m×n] = A[m×k]·Bᵀ (+ bias per column), C row stride ldc, A
// row stride lda, with kernel mk, splitting C into one rectangle per
// goroutine.
func gemm(mk *microKernel, c []float32, ldc int, a []float32, lda int, b bOperand, m, n, k int, bias []float32) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			if bias != nil {
				copy(row, bias[:n])
			} else {
				clear(row)
			}
		}
		return
	}
	if rs, ok := b.(rowSource); ok && m <= gemvMaxRows && gemv(c, ldc, a, lda, rs, m, n, k, bias) {
		return
	}
	t := threads()
	if 2*m*n*k < serialFlops {
		t = 1
	}
	tm, tn := partition(t, ceilDiv(m, mk.mr), ceilDiv(n, mk.nr))
	g := gemmCall{mk: mk, c: c, ldc: ldc, a: a, lda: lda, b: b, m: m, n: n, k: k, bias: bias, tm: tm, tn: tn}
	if tm*tn == 1 {
		g.region(0)
		return
	}
	var wg sync.WaitGroup
	for r := 1; r < tm*tn; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.region(r)
		}()
	}
	g.region(0)
	wg.Wait()
}

// partition chooses a grid of tm row-bands × tn column-bands, tm·tn <= t,
// for pm row panels and pn column panels, minimising the largest share of
// micro-tiles. A split by columns is preferred on ties: then every goroutine
// packs its own part of B and B is converted only once.
func partition(t, pm, pn int) (tm, tn int) {
	best := -1
	for cn := 1; cn <= t; cn++ {
		cm := t / cn
		if cn > pn {
			break
		}
		cm = min(cm, pm)
		// Micro-tiles per goroutine, plus the packing of its parts of B
		// (charged as two rows of tiles) and A (one column of tiles).
		bn, bm := ceilDiv(pn, cn), ceilDiv(pm, cm)
		cost := bn*bm + 2*bn + bm
		if best < 0 || cost <= best {
			best, tm, tn = cost, cm, cn
		}
	}
	return tm, tn
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// gemmCall is one GEMM split into tm×tn rectangles.
type gemmCall struct {
	mk      *microKernel
	c       []float32
	ldc     int
	a       []float32
	lda     int
	b       bOperand
	m, n, k int
	bias    []float32
	tm, tn  int
}

// span returns the part [lo, hi) of n items, grouped in units of u, that
// part i of parts gets; units are spread evenly.
func span(i, parts, n, u int) (lo, hi int) {
	units := ceilDiv(n, u)
	lo = min(n, i*units/parts*u)
	hi = min(n, (i+1)*units/parts*u)
	return lo, hi
}

// packedOperand is a bOperand whose panels are packed ahead of time for a
// fixed kc (Dense).
type packedOperand interface {
	bOperand
	packedKC() int
}

// smallMRows is the number of rows of C up to which B is streamed with long
// reduction slices (see blocking).
const smallMRows = 128

// blocking returns the cache blocking (kc, nc). With many rows each B block
// is reused by every group of mr rows, so it must stay in L2 next to one A
// micro-panel in L1: the kernel's kc×nc. With few rows (decoding, short
// windows) B is read about once, its conversion and memory traffic
// dominate, and reading long runs of each weight row is what counts: kc
// grows so that the rows of A and one B panel (rows + nr floats by kc) still
// fit in half of L2, and a block is one panel.
//
// It depends on the shape only, not on the split over goroutines: kc fixes
// the order of the float32 additions, so results do not depend on the
// number of goroutines.
func (g *gemmCall) blocking() (kc, nc int) {
	mk := g.mk
	kc, nc = mk.kc, mk.nc
	if rows := g.m; rows <= smallMRows {
		kc = max(mk.kc, min(4096, (128<<10)/(rows+mk.nr))&^255)
		nc = mk.nr
	}
	if p, ok := g.b.(packedOperand); ok {
		kc = p.packedKC()
	}
	return kc, nc
}

// region computes rectangle r of C.
func (g *gemmCall) region(r int) {
	mk := g.mk
	mr, nr := mk.mr, mk.nr
	i0, i1 := span(r/g.tn, g.tm, g.m, mr)
	j0, j1 := span(r%g.tn, g.tn, g.n, nr)
	if i0 >= i1 || j0 >= j1 {
		return
	}
	kc, nc := g.blocking()
	kcMax := min(kc, g.k)
	ncMax := min(nc, ceilDiv(j1-j0, nr)*nr)
	ws := getWorkspace(mr*kcMax, ncMax*kcMax, mr*nr)
	defer workspaces.Put(ws)
	c, ldc, a, lda := g.c, g.ldc, g.a, g.lda
	full := i0 + (i1-i0)/mr*mr // rows of A read in place; the rest is padded
	for pc := 0; pc < g.k; pc += kcMax {
		kc := min(kcMax, g.k-pc)
		acc := 0
		if pc > 0 {
			acc = 1
		}
		if full < i1 {
			// Copy the last rows, zero-padded to mr, into ws.a (row stride kc).
			for r := 0; r < mr; r++ {
				row := ws.a[r*kc : (r+1)*kc]
				if full+r < i1 {
					copy(row, a[(full+r)*lda+pc:(full+r)*lda+pc+kc])
				} else {
					clear(row)
				}
			}
		}
		for jc := j0; jc < j1; jc += ncMax {
			nc := min(ncMax, j1-jc)
			bp, bstride := g.b.block(ws.b, nr, jc, nc, pc, kc)
			for i := i0; i < i1; i += mr {
				mrr := min(mr, i1-i)
				ap, ldap := &a[i*lda+pc], lda
				if i >= full {
					ap, ldap = &ws.a[0], kc
				}
				for jr := 0; jr < nc; jr += nr {
					nrr := min(nr, nc-jr)
					bq := &bp[jr/nr*bstride]
					if mrr == mr && nrr == nr {
						mk.fn(kc, ap, ldap, bq, &c[i*ldc+jc+jr], ldc, acc)
						continue
					}
					mk.fn(kc, ap, ldap, bq, &ws.c[0], nr, 0)
					for ii := 0; ii < mrr; ii++ {
						dst := c[(i+ii)*ldc+jc+jr : (i+ii)*ldc+jc+jr+nrr]
						src := ws.c[ii*nr : ii*nr+nrr]
						if acc != 0 {
							for j, v := range src {
								dst[j] += v
							}
						} else {
							copy(dst, src)
						}
					}
				}
			}
		}
	}
	if g.bias != nil {
		bias := g.bias[j0:j1]
		for i := i0; i < i1; i++ {
			row := c[i*ldc+j0 : i*ldc+j1]
			for j, v := range bias {
				row[j] += v
			}
		}
	}
}
