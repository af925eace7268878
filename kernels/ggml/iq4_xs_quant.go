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

func init() { registerQuantizer(IQ4_XS, quantizeIQ4_XS) }

func quantizeIQ4_XS(dst []byte, src []float32, imatrix []float32) {
	nb := kCheckRow("iq4_xs", dst, src, imatrix, iq4_XSBytes)
	for i := 0; i < nb; i++ {
		var qw []float32
		if imatrix != nil {
			qw = imatrix[i*QK_K : (i+1)*QK_K]
		}
		kQuantizeBlockIQ4_XS(dst[i*iq4_XSBytes:(i+1)*iq4_XSBytes], src[i*QK_K:(i+1)*QK_K], qw)
	}
}

func kQuantizeBlockIQ4_XS(b []byte, x, qw []float32) {
	const ntry = 7
	var L [QK_K]uint8
	var weight [32]float32
	var scales [QK_K / 32]float32
	values := &kvaluesIQ4NL
	v0 := float32(values[0])

	var sigma2 float32
	for _, v := range x {
		sigma2 += float32(v * v)
	}
	// Rounded here: Go may otherwise fuse this product into an FMA with
	// the sigma2 + x² below, across the statements.
	sigma2 = float32(sigma2 * (2.0 / QK_K))

	qs := b[8:136]
	for k := range qs {
		qs[k] = 0
	}
	kPut16(b[0:], kFP32ToFP16(0))

	var maxScale, amaxScale float32
	for ib := 0; ib < QK_K/32; ib++ {
		xb := x[32*ib : 32*ib+32]
		Lb := L[32*ib : 32*ib+32]
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
			l := int(bestIndexIQ4NL(id * v))
			Lb[j] = uint8(l)
			q := float32(values[l])
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

	// Several blocks per super-block: 6-bit block scales.
	var scalesH uint16
	scalesL := b[4:8]
	d := -maxScale / 32
	kPut16(b[0:], kFP32ToFP16(d))
	var id float32
	if d != 0 {
		id = 1 / d
	}
	for ib := 0; ib < QK_K/32; ib++ {
		l := kClamp(kNearestInt(id*scales[ib]), -32, 31)
		dl := float32(d * float32(l))
		var idl float32
		if dl != 0 {
			idl = 1 / dl
		}
		Lb := L[32*ib : 32*ib+32]
		xb := x[32*ib : 32*ib+32]
		for j, v := range xb {
			Lb[j] = bestIndexIQ4NL(idl * v)
		}
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

	for i := 0; i < QK_K/32; i++ {
		for j := 0; j < 16; j++ {
			qs[16*i+j] = L[32*i+j] | L[32*i+16+j]<<4
		}
	}
}
