package ggml

import "math"

// Helpers of the legacy quantisers (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL),
// named legacy* so that they stay apart from the K-quant helpers.
//
// llama-quantize reaches these types through ggml_quantize_chunk, which
// calls the quantize_* functions of ggml-quants.c in libggml-base, never
// the SIMD quantize_row_* of the CPU backend. libggml-base is built for
// plain x86-64 (SSE2: no -march=native, no FMA, no F16C), so its float
// arithmetic is one IEEE float32 rounding per operation, in source order,
// and its float→half conversion is the software one of ggml-impl.h
// (round to nearest, ties to even). The Go below keeps every product and
// sum in float32 and writes float32(...) around each product that feeds
// an addition, which stops the compiler from fusing the two into an FMA.

// legacyGroupMaxEps is GROUP_MAX_EPS: a block whose largest magnitude is
// below it counts as all zero.
const legacyGroupMaxEps float32 = 1e-15

// legacyAbs is fabsf.
func legacyAbs(x float32) float32 {
	return math.Float32frombits(math.Float32bits(x) &^ (1 << 31))
}

// legacyFP32ToFP16 rounds a float32 to binary16 as ggml's CPU-independent
// GGML_FP32_TO_FP16 does: to nearest, ties to even, through the half
// subnormals; too large a magnitude gives ±Inf, and a NaN the quiet NaN
// 0x7e00 with the input's sign.
func legacyFP32ToFP16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	a := b &^ (1 << 31)
	switch {
	case a > 0x7f800000: // NaN
		return sign | 0x7e00
	case a >= 0x477ff000: // 65520 and up (and Inf) round to Inf
		return sign | 0x7c00
	case a >= 0x38800000: // 2^-14 and up: a normal half
		// Drop 13 mantissa bits, rounding to nearest even; a carry out of
		// the mantissa moves into the exponent, which is what we want.
		m := a + 0x0fff + (a>>13)&1
		return sign | uint16((m-(112<<23))>>13)
	case a < 0x33000000: // below 2^-25: rounds to zero (2^-25 itself ties to 0)
		return sign
	default: // a half subnormal, counted in units of 2^-24
		e := a >> 23
		m := a&0x7fffff | 0x800000 // 24-bit significand, value m·2^(e-150)
		shift := 126 - e           // value in units of 2^-24 is m >> shift
		q := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || rem == half && q&1 == 1 {
			q++
		}
		return sign | uint16(q)
	}
}

// legacyPutHalf stores a binary16 value little-endian at b[0:2].
func legacyPutHalf(b []byte, h uint16) {
	_ = b[1]
	b[0] = byte(h)
	b[1] = byte(h >> 8)
}

// legacyNearestInt is ggml-quants.c's nearest_int: adding 1.5·2^23 rounds
// a float32 of magnitude below 2^22 to an integer (ties to even) that the
// low mantissa bits then hold.
//
// Callers pass float32(a * b) for a product: Go may otherwise fuse the
// product into this addition (FMA) once the call is inlined.
func legacyNearestInt(f float32) int {
	v := float32(f) + 12582912
	return int(math.Float32bits(v)&0x007fffff) - 0x00400000
}

// legacyTrunc is the C cast (int)f as x86 performs it (cvttss2si): toward
// zero, and the "integer indefinite" INT32_MIN for NaN or a value out of
// int32's range. Casts to int8_t/uint8_t take the low byte of it.
func legacyTrunc(f float32) int32 {
	if !(f > -2147483904 && f < 2147483648) { // also NaN
		return math.MinInt32
	}
	return int32(f)
}

// legacySigma2 is the mean square of a row, summed in float32 in order,
// as the importance-weighted legacy quantisers compute it.
func legacySigma2(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += float32(v * v)
	}
	return s / float32(len(x))
}

// legacyBlockWeights fills w[j] = qw[j]·sqrt(sigma2 + x[j]²), the weights
// of one 32-value block of the importance-weighted paths.
func legacyBlockWeights(w *[32]float32, x, qw []float32, sigma2 float32) {
	x = x[:32]
	qw = qw[:32]
	for j := range w {
		w[j] = qw[j] * float32(math.Sqrt(float64(sigma2+float32(x[j]*x[j]))))
	}
}

// legacyMakeQxQuants is make_qx_quants(32, nmax, x, L, 1, w) for the
// symmetric types with importance weights: the scale d and levels L[i] in
// [0, 2·nmax) (value ≈ d·(L[i]-nmax)) that maximise the weighted fit over
// 19 candidate inverse scales -(nmax+0.1·is)/max. The levels are those of
// the winning candidate inverse scale, not of 1/d (d is its least-squares
// refit); lv says how they were taken.
func legacyMakeQxQuants(nmax int, x []float32, L *[32]uint8, w *[32]float32) (d float32, lv legacyLevels) {
	x = x[:32]
	var max, amax float32
	for _, v := range x {
		if ax := legacyAbs(v); ax > amax {
			amax, max = ax, v
		}
	}
	lv = legacyLevels{lo: int32(-nmax), hi: int32(nmax - 1), search: true}
	if amax < legacyGroupMaxEps {
		*L = [32]uint8{}
		lv.flat = true
		return 0, lv
	}
	// w[i]·x[i] is the same float32 product in every pass.
	var wx [32]float32
	for i, v := range x {
		wx[i] = w[i] * v
	}
	// levels fills ls with the clamped levels of iscale·x (offset by nmax)
	// and returns the weighted sums of l·x and l².
	var ls [32]uint8
	levels := func(iscale float32) (sumlx, suml2 float32) {
		for i, v := range x {
			l := legacyNearestInt(float32(iscale * v))
			if l > nmax-1 {
				l = nmax - 1
			}
			if l < -nmax {
				l = -nmax
			}
			ls[i] = uint8(l + nmax)
			fl := float32(l)
			sumlx += float32(wx[i] * fl)
			suml2 += float32(float32(w[i]*fl) * fl)
		}
		return sumlx, suml2
	}
	lv.id = float32(-nmax) / max
	sumlx, suml2 := levels(lv.id)
	*L = ls
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := scale * sumlx
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale := -(float32(nmax) + float32(0.1*float32(is))) / max
		sumlx, suml2 = levels(iscale)
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			*L = ls
			lv.id = iscale
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale, lv
}

// legacyMakeQkx3Quants is make_qkx3_quants(32, nmax, x, w, L, &min, Laux,
// -0.9, 0.05, 36, false) for the types with a minimum and importance
// weights: levels L[i] in [0, nmax] and value ≈ scale·L[i] - negMin, the
// pair chosen by weighted least squares over 37 candidate inverse scales.
// It returns scale and negMin (the_min, the negated minimum), and in lv how
// the levels were taken: with the winning candidate's inverse scale and the
// minimum in force when it was tried (a win replaces the minimum that later
// candidates subtract by the refitted one, as llama.cpp's loop does).
func legacyMakeQkx3Quants(nmax int, x []float32, L *[32]uint8, w *[32]float32) (scale, negMin float32, lv legacyLevels) {
	const (
		rmin   float32 = -0.9
		rdelta float32 = 0.05
		nstep          = 36
	)
	x = x[:32]
	min, max := x[0], x[0]
	sumW := w[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < 32; i++ {
		v := x[i]
		if v < min {
			min = v
		}
		if v > max {
			max = v
		}
		sumW += w[i]
		sumX += float32(w[i] * v)
	}
	if min > 0 {
		min = 0
	}
	lv = legacyLevels{lo: 0, hi: int32(nmax), search: true}
	if max <= min {
		*L = [32]uint8{}
		lv.flat = true
		return 0, -min, lv
	}
	clamp := func(l int) int {
		if l > nmax {
			l = nmax
		}
		if l < 0 {
			l = 0
		}
		return l
	}
	fnmax := float32(nmax)
	iscale := fnmax / (max - min)
	scale = 1 / iscale
	lv.id, lv.min = iscale, min
	var bestMad float32
	for i, v := range x {
		l := clamp(legacyNearestInt(float32(iscale * (v - min))))
		L[i] = uint8(l)
		diff := float32(float32(scale*float32(l))+min) - v
		bestMad += float32(w[i] * float32(diff*diff))
	}
	var laux [32]uint8
	for is := 0; is <= nstep; is++ {
		iscale = float32(float32(rmin+float32(rdelta*float32(is)))+fnmax) / (max - min)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := clamp(legacyNearestInt(float32(iscale * (v - min))))
			laux[i] = uint8(l)
			fl := float32(l)
			wl := float32(w[i] * fl)
			sumL += wl
			sumL2 += float32(wl * fl)
			sumXL += float32(wl * v)
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var mad float32
			for i, v := range x {
				diff := float32(float32(thisScale*float32(laux[i]))+thisMin) - v
				mad += float32(w[i] * float32(diff*diff))
			}
			if mad < bestMad {
				*L = laux
				lv.id, lv.min = iscale, min
				bestMad = mad
				scale = thisScale
				min = thisMin
			}
		}
	}
	return scale, -min, lv
}

// legacyFitFunc quantises one 32-value block x into b (the type's
// BlockBytes) and returns how it coded the values: with the block's
// importance weights qw and the row's sigma2, or by the reference rounding
// when qw is nil. One per type of Q4_0, Q4_1, Q5_0, Q5_1, in its file.
type legacyFitFunc func(b []byte, x *[32]float32, qw []float32, sigma2 float32) legacyLevels

// legacyQuantizeRow is the row loop of quantize_q4_0 … quantize_q5_1:
// sigma2 of the whole row when weighted, then fit block by block.
func legacyQuantizeRow(dst []byte, src, imatrix []float32, blockBytes int, fit legacyFitFunc) {
	var sigma2 float32
	if imatrix != nil {
		sigma2 = legacySigma2(src)
	}
	for i := 0; i < len(src)/32; i++ {
		var qw []float32
		if imatrix != nil {
			qw = imatrix[i*32 : i*32+32]
		}
		fit(dst[i*blockBytes:(i+1)*blockBytes], (*[32]float32)(src[i*32:]), qw, sigma2)
	}
}

// legacyRounder is the part the Rounders of Q4_0, Q4_1, Q5_0 and Q5_1
// share: the row's sigma2, and Fit, which runs the type's fit and keeps
// the block's levels and stored d (and, withMin, m). Each type embeds it
// and has its own Round, which stores the code where its block keeps it
// and dequantises it.
type legacyRounder struct {
	fit          legacyFitFunc
	withMin      bool
	sigma2, d, m float32
	lv           legacyLevels
}

// legacyNewRounder is the legacyRounder of one row for the type's fit.
func legacyNewRounder(row []float32, fit legacyFitFunc, withMin bool) legacyRounder {
	return legacyRounder{fit: fit, withMin: withMin, sigma2: legacySigma2(row)}
}

func (r *legacyRounder) Fit(dst []byte, _ int, x, imatrix []float32) {
	r.lv = r.fit(dst, (*[32]float32)(x), imatrix, r.sigma2)
	r.d = halfToFloat(le16(dst[0:]))
	if r.withMin {
		r.m = halfToFloat(le16(dst[2:]))
	}
}

// legacyLevels is how a legacy quantiser coded the values of a block, so
// that a value can be coded again the same way (the Rounders):
//
//   - the reference roundings (search false): trunc((v - min)·id + bias)
//     clamped to lo..hi, id = 1/d of the unrounded float32 d (min 0 for
//     the symmetric types, whose bias 8.5 or 16.5 also adds the offset);
//   - the importance-weighted scale searches (search true):
//     nearest_int(id·(v - min)) clamped to lo..hi, less lo, with id the
//     winning candidate inverse scale (and min the minimum it was tried
//     with); code 0 for a block the search found all zero or flat.
type legacyLevels struct {
	id, min, bias float32
	lo, hi        int32
	search, flat  bool
}

// code is the code of value v.
func (lv *legacyLevels) code(v float32) uint8 {
	if !lv.search {
		return lv.truncCode(v)
	}
	if lv.flat {
		return 0
	}
	return uint8(legacyNearestLevel(float32(lv.id*(v-lv.min)), lv.lo, lv.hi) - lv.lo)
}

// truncCode is code for the reference roundings (search false), apart so
// that it inlines into their loops over a block.
func (lv *legacyLevels) truncCode(v float32) uint8 {
	return uint8(legacyTruncLevel(float32((v-lv.min)*lv.id)+lv.bias, lv.lo, lv.hi))
}

// legacyTruncLevel is what the reference roundings' C cast (int8_t)f or
// (uint8_t)f, then MIN(hi, ·), gives for an f that stays within lo..hi:
// trunc(f). Beyond lo..hi it saturates where C's cast would wrap (and a
// negative level would spill into the neighbouring nibble). NaN and ±Inf
// give 0, as C's: x86's "integer indefinite" has a low byte of 0.
func legacyTruncLevel(f float32, lo, hi int32) int32 {
	switch {
	case f-f != 0: // NaN, ±Inf
		return 0
	case f >= float32(hi):
		return hi
	case f <= float32(lo):
		return lo
	}
	return int32(f)
}

// legacyNearestLevel is MAX(lo, MIN(hi, nearest_int(f))), except that a
// finite f too large for nearest_int's trick (|f| >= 2^22, which llama.cpp
// asserts against) saturates instead of giving a wrapped-around level.
func legacyNearestLevel(f float32, lo, hi int32) int32 {
	switch {
	case f >= 0x1p22 && f <= math.MaxFloat32:
		return hi
	case f <= -0x1p22 && f >= -math.MaxFloat32:
		return lo
	}
	return int32(max(int(lo), min(int(hi), legacyNearestInt(f))))
}

// legacyPutNibble stores the 4-bit code q of value j of a 32-value block
// in qs (legacyPackNibbles' layout), leaving the other value's nibble.
func legacyPutNibble(qs []byte, j int, q uint8) {
	setBits(qs, j%16, uint(j/16)*4, 4, q)
}

// legacyPutQ5 stores the 5-bit code q of value j: its low 4 bits as
// legacyPutNibble, its fifth in bit j of the little-endian qh.
func legacyPutQ5(qh, qs []byte, j int, q uint8) {
	legacyPutNibble(qs, j, q)
	setBits(qh, j/8, uint(j%8), 1, q>>4)
}

// legacyPackNibbles writes the 16 bytes of 4-bit quants of a 32-value
// block: byte j holds L[j] in its low nibble and L[j+16] in its high one.
func legacyPackNibbles(qs []byte, L *[32]uint8) {
	qs = qs[:16]
	for j := range qs {
		qs[j] = L[j]&0x0f | L[j+16]<<4
	}
}

// legacyPackQ5 writes the low nibbles (as legacyPackNibbles) and returns
// the 32 fifth bits, bit j for value j, of a 5-bit block.
func legacyPackQ5(qs []byte, L *[32]uint8) uint32 {
	legacyPackNibbles(qs, L)
	var qh uint32
	for j, l := range L {
		qh |= uint32(l>>4&1) << j
	}
	return qh
}

// legacyPutLE32 stores a uint32 little-endian at b[0:4].
func legacyPutLE32(b []byte, v uint32) {
	_ = b[3]
	b[0] = byte(v)
	b[1] = byte(v >> 8)
	b[2] = byte(v >> 16)
	b[3] = byte(v >> 24)
}

// legacyRoundf is C's roundf: to nearest, ties away from zero.
func legacyRoundf(x float32) float32 {
	return float32(math.Round(float64(x)))
}
