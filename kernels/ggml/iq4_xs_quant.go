package ggml

// IQ4_XS quantisation, as llama-quantize does it (ggml_quantize_chunk →
// quantize_iq4_xs → quantize_row_iq4_nl_impl with super-blocks of 256,
// blocks of 32 and ntry 7, with or without importance weights; the
// _ref function is not on that path). The block layout is in iq4_xs.go.
//
// Per block of 32: weights imatrix·sqrt(2σ² + x²) (σ² the super-block's
// mean square), or x² without an importance matrix; the starting scale
// maps the largest magnitude onto the code book's -127, each value takes
// its nearest code, the scale is refitted by weighted least squares, and
// 15 more starting scales (code -127 + itry, itry = -7..7) are tried,
// each kept only when it fits strictly better. The block scales are then
// rounded to 6 bits against d = -max/32 (the float32 d, not its binary16)
// and every value re-coded with its block's rounded scale.
//
// The Rounder codes a value as that last step does: the code-book entry
// nearest x/(d·l), d the float32 super-block scale, l the block's 6-bit
// scale less 32.

func init() {
	registerQuantizer(IQ4_XS, quantizeIQ4_XS)
	registerRounder(IQ4_XS, newRounderIQ4_XS)
}

func quantizeIQ4_XS(dst []byte, src []float32, imatrix []float32) {
	nb := kCheckRow("iq4_xs", dst, src, imatrix, iq4_XSBytes)
	var s iq4XSSubs
	for i := 0; i < nb; i++ {
		var qw []float32
		if imatrix != nil {
			qw = imatrix[i*QK_K : (i+1)*QK_K]
		}
		fitIQ4_XS(dst[i*iq4_XSBytes:(i+1)*iq4_XSBytes], src[i*QK_K:(i+1)*QK_K], qw, &s)
	}
}

// iq4XSSubs is what IQ4_XS's last step codes with, per block of 32: idl,
// 1/(d·l) of the float32 d (0 when d·l is 0), and dl, the binary16 d
// times l (the dequantiser's scale).
type iq4XSSubs struct{ idl, dl [QK_K / 32]float32 }

// code is the code of value x at j.
func (s *iq4XSSubs) code(j int, x float32) uint8 {
	return bestIndexIQ4NL(float32(s.idl[j/32] * x))
}

// fitIQ4_XS quantises one super-block and leaves in s what its codes were
// taken with.
func fitIQ4_XS(b []byte, x, qw []float32, s *iq4XSSubs) {
	var scales [QK_K / 32]float32
	maxScale := iq4XSBlockScales(&scales, x, qw)
	iq4XSStoreScales(b, &scales, maxScale, s)
	for j, v := range x[:QK_K] {
		putCodeIQ4_XS(b, j, s.code(j, v))
	}
}

// iq4XSBlockScales is the scale search of quantize_row_iq4_nl_impl: each
// block of 32's scale, and the one of largest magnitude.
func iq4XSBlockScales(scales *[QK_K / 32]float32, x, qw []float32) (maxScale float32) {
	const ntry = 7
	var weight [32]float32
	values := &kvaluesIQ4NL
	v0 := float32(values[0])

	var sigma2 float32
	for _, v := range x {
		sigma2 += float32(v * v)
	}
	// Rounded here: Go may otherwise fuse this product into an FMA with
	// the sigma2 + x² below, across the statements.
	sigma2 = float32(sigma2 * (2.0 / QK_K))

	var amaxScale float32
	for ib := 0; ib < QK_K/32; ib++ {
		xb := x[32*ib : 32*ib+32]
		if qw != nil {
			q := qw[32*ib : 32*ib+32]
			for j, v := range xb {
				weight[j] = q[j] * kSqrt(sigma2+float32(v*v))
			}
		} else {
			for j, v := range xb {
				weight[j] = v * v
			}
		}
		var amax, max float32
		for _, v := range xb {
			if ax := kAbs(v); ax > amax {
				amax = ax
				max = v
			}
		}
		if amax < kGroupMaxEps {
			scales[ib] = 0
			continue
		}
		d := -max / v0 // ntry > 0
		id := 1 / d
		var sumqx, sumq2 float32
		for j, v := range xb {
			q := float32(values[bestIndexIQ4NL(id*v)])
			w := weight[j]
			sumqx += float32(float32(w*q) * v)
			sumq2 += float32(float32(w*q) * q)
		}
		d = 0
		if sumq2 > 0 {
			d = sumqx / sumq2
		}
		best := d * sumqx
		for itry := -ntry; itry <= ntry; itry++ {
			id = float32(itry+int(values[0])) / max
			sumqx, sumq2 = 0, 0
			for j, v := range xb {
				q := float32(values[bestIndexIQ4NL(id*v)])
				w := weight[j]
				sumqx += float32(float32(w*q) * v)
				sumq2 += float32(float32(w*q) * q)
			}
			if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
				d = sumqx / sumq2
				best = d * sumqx
			}
		}
		scales[ib] = d
		if ad := kAbs(d); ad > amaxScale {
			amaxScale = ad
			maxScale = d
		}
	}

	return maxScale
}

// iq4XSStoreScales is the end of quantize_row_iq4_nl_impl for several
// blocks per super-block: d = -maxScale/32 stored as binary16, each
// block's scale rounded to 6 bits against the float32 d, and in s the
// scales the codes are taken with.
func iq4XSStoreScales(b []byte, scales *[QK_K / 32]float32, maxScale float32, s *iq4XSSubs) {
	var scalesH uint16
	scalesL := b[4:8]
	d := -maxScale / 32
	kPut16(b[0:], kFP32ToFP16(d))
	dh := halfToFloat(le16(b[0:]))
	var id float32
	if d != 0 {
		id = 1 / d
	}
	for ib := 0; ib < QK_K/32; ib++ {
		l := kClamp(kNearestInt(id*scales[ib]), -32, 31)
		dl := float32(d * float32(l))
		s.idl[ib] = 0
		if dl != 0 {
			s.idl[ib] = 1 / dl
		}
		s.dl[ib] = float32(dh * float32(l))
		l += 32
		lL := uint8(l & 0x0f)
		lH := uint8(l >> 4)
		if ib%2 == 0 {
			scalesL[ib/2] = lL
		} else {
			scalesL[ib/2] |= lL << 4
		}
		scalesH |= uint16(lH) << (2 * (ib % 8))
	}
	kPut16(b[2:], scalesH)
}

// putCodeIQ4_XS stores the 4-bit code of value j: byte 16·(j/32) + j%16
// of qs, the low nibble for j%32 < 16.
func putCodeIQ4_XS(b []byte, j int, q uint8) {
	setBits(b[8:136], 16*(j/32)+j%16, uint(j%32/16)*4, 4, q)
}

// rounderIQ4_XS is IQ4_XS's Rounder.
type rounderIQ4_XS struct{ s iq4XSSubs }

func newRounderIQ4_XS(_, _ []float32) Rounder { return new(rounderIQ4_XS) }

func (r *rounderIQ4_XS) Fit(dst []byte, _ int, x, imatrix []float32) {
	fitIQ4_XS(dst, x, imatrix, &r.s)
}

func (r *rounderIQ4_XS) Round(dst []byte, j int, x float32) float32 {
	q := r.s.code(j, x)
	putCodeIQ4_XS(dst, j, q)
	return r.s.dl[j/32] * float32(kvaluesIQ4NL[q])
}
