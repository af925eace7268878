package kernels

import (
	"encoding/binary"
	"fmt"
)

// Dense is a float32 Linear. Its weights are packed once, at construction,
// into the micro-kernel's panel layout, so Apply streams them without
// converting: for each slice of kc input columns (kc = 256), the
// ceil(out/nr) panels of kc×nr floats (nr = 64 with AVX-512) follow each
// other, so the block of B a GEMM step works on is contiguous in memory (and
// spreads evenly over the cache sets).
//
// Memory: the packed copy takes 4·in·roundup(out, nr) bytes. Dense also
// keeps a reference to the slice given to NewDense (Weights returns it, no
// copy), so that slice stays alive as long as the Dense: the weights take
// twice their size unless the caller keeps the original anyway (for
// quantisation, say).
type Dense struct {
	out, in int
	w       []float32
	bias    []float32
	mk      *microKernel
	kc      int // rows of a packed slice, min(mk.kc, in)
	packed  []float32
}

// NewDense returns a Linear with weight w (out×in, row-major, the PyTorch
// nn.Linear layout) and optional bias (nil or out values). It packs w for
// the kernel of CurrentISA; later changes to w are not seen. It panics if a
// size does not match.
func NewDense(w []float32, out, in int, bias []float32) *Dense {
	checkLinear("NewDense", out, in, len(w), out*in, bias)
	mk := currentKernel()
	nr, kc := mk.nr, min(mk.kc, in)
	panels := ceilDiv(out, nr)
	packed := alignedFloats(panels * in * nr)
	src := rawNT{b: w, ldb: in}
	for p0 := 0; p0 < in; p0 += kc {
		kcs := min(kc, in-p0)
		slice := packed[p0*panels*nr:]
		for q := 0; q < panels; q++ {
			src.packPanel(slice[q*kcs*nr:(q+1)*kcs*nr], nr, q*nr, min(nr, out-q*nr), p0, kcs)
		}
	}
	return &Dense{out: out, in: in, w: w[:out*in], bias: bias, mk: mk, kc: kc, packed: packed}
}

func checkLinear(op string, out, in, have, want int, bias []float32) {
	if out <= 0 || in <= 0 {
		panic(fmt.Sprintf("kernels.%s: sizes out=%d in=%d must be positive", op, out, in))
	}
	if have < want {
		panic(fmt.Sprintf("kernels.%s: weights hold %d values (or bytes), %d×%d needs %d", op, have, out, in, want))
	}
	if bias != nil && len(bias) != out {
		panic(fmt.Sprintf("kernels.%s: bias has %d values, want %d", op, len(bias), out))
	}
}

func checkApply(l Linear, y, x []float32, n int) {
	if n < 0 || len(x) < n*l.In() || len(y) < n*l.Out() {
		panic(fmt.Sprintf("kernels: Apply of %d×%d Linear to n=%d rows needs len(x)>=%d and len(y)>=%d, have %d and %d",
			l.Out(), l.In(), n, n*l.In(), n*l.Out(), len(x), len(y)))
	}
}

// In is the input width.
func (d *Dense) In() int { return d.in }

// Out is the output width.
func (d *Dense) Out() int { return d.out }

// Weights returns the out×in slice given to NewDense (not a copy).
func (d *Dense) Weights() []float32 { return d.w }

// Bias returns the bias given to NewDense (nil for none).
func (d *Dense) Bias() []float32 { return d.bias }

// Apply computes y[n×out] = x[n×in]·Wᵀ + bias.
func (d *Dense) Apply(y, x []float32, n int) {
	checkApply(d, y, x, n)
	gemm(d.mk, y, d.out, x, d.in, d, n, d.out, d.in, d.bias)
}

// packedKC is the kc slice Dense was packed for.
func (d *Dense) packedKC() int { return d.kc }

// block hands out the pre-packed panels without copying.
func (d *Dense) block(_ []float32, nr, j0, _, p0, kc int) ([]float32, int) {
	if nr != d.mk.nr || p0%d.kc != 0 || kc != min(d.kc, d.in-p0) {
		panic("kernels: Dense used with another blocking than it was packed for")
	}
	panels := ceilDiv(d.out, nr)
	return d.packed[p0*panels*nr+j0/nr*kc*nr:], kc * nr
}

// BF16Dense is a Linear whose weights stay in their stored form, raw
// little-endian bfloat16 bytes (for instance a region of a memory-mapped
// safetensors file, never copied whole); they are widened to float32 block
// by block while the GEMM packs its B panels. Each Apply reads the weights
// once.
type BF16Dense struct{ halfDense }

// FP16Dense is BF16Dense for IEEE binary16 weights.
type FP16Dense struct{ halfDense }

// NewBF16Dense returns a Linear over raw (out×in bf16 values, row-major,
// 2·out·in bytes) and optional bias. It panics if a size does not match.
func NewBF16Dense(raw []byte, out, in int, bias []float32) *BF16Dense {
	checkLinear("NewBF16Dense", out, in, len(raw), 2*out*in, bias)
	return &BF16Dense{halfDense{out: out, in: in, raw: raw[:2*out*in], bias: bias}}
}

// NewFP16Dense returns a Linear over raw (out×in fp16 values, row-major,
// 2·out·in bytes) and optional bias. It panics if a size does not match.
func NewFP16Dense(raw []byte, out, in int, bias []float32) *FP16Dense {
	checkLinear("NewFP16Dense", out, in, len(raw), 2*out*in, bias)
	return &FP16Dense{halfDense{out: out, in: in, raw: raw[:2*out*in], bias: bias, fp16: true}}
}

// halfDense is the Linear over 16-bit float weights behind BF16Dense and
// FP16Dense.
type halfDense struct {
	out, in int
	raw     []byte
	bias    []float32
	fp16    bool // IEEE binary16; bfloat16 otherwise
}

// In is the input width.
func (d *halfDense) In() int { return d.in }

// Out is the output width.
func (d *halfDense) Out() int { return d.out }

// Raw returns the 16-bit float bytes the Linear reads.
func (d *halfDense) Raw() []byte { return d.raw }

// Bias returns the bias given at construction (nil for none).
func (d *halfDense) Bias() []float32 { return d.bias }

// Apply computes y[n×out] = x[n×in]·Wᵀ + bias.
func (d *halfDense) Apply(y, x []float32, n int) {
	checkApply(d, y, x, n)
	gemm(currentKernel(), y, d.out, x, d.in, half16Operand{d.raw, d.in, d.fp16}, n, d.out, d.in, d.bias)
}

// half16Operand is a row-major out×in B of bf16 or fp16 values.
type half16Operand struct {
	raw  []byte
	in   int
	fp16 bool
}

func (o half16Operand) block(buf []float32, nr, j0, nc, p0, kc int) ([]float32, int) {
	return packBlock(o, buf, nr, j0, nc, p0, kc)
}

func (o half16Operand) packPanel(dst []float32, nr, j0, w, p0, kc int) {
	src := o.raw[2*(j0*o.in+p0):]
	lds := 2 * o.in
	rows, cols := packHalf16(dst, nr, src, lds, w, kc, o.fp16)
	widen := bf16ToFloat32
	if o.fp16 {
		widen = fp16ToFloat32
	}
	for j := 0; j < w; j++ {
		p0 := 0
		if j < rows {
			p0 = cols
		}
		row := src[j*lds : j*lds+2*kc]
		for p := p0; p < kc; p++ {
			dst[p*nr+j] = widen(binary.LittleEndian.Uint16(row[2*p:]))
		}
	}
	zeroColumns(dst, nr, w, kc)
}

// zeroColumns clears columns w…nr-1 of the kc×nr panel dst.
func zeroColumns(dst []float32, nr, w, kc int) {
	if w == nr {
		return
	}
	for p := 0; p < kc; p++ {
		clear(dst[p*nr+w : p*nr+nr])
	}
}
