package ggml

import (
	"math"
	"strconv"
)

// Pieces shared by the K-quant and IQ4_XS quantisers (q2_k_quant.go ...
// q6_k_quant.go, iq4_xs_quant.go): the scale searches of llama.cpp's
// ggml-quants.c, redone in Go so that every block comes out with the bytes
// llama-quantize writes.
//
// Exactness rules, followed throughout:
//
//   - All arithmetic is float32, in the order llama.cpp's C evaluates it.
//     libggml-base (where ggml_quantize_chunk and every quantize_* lives) is
//     built for baseline x86-64 without -ffast-math: scalar SSE, no FMA, no
//     reassociated or vectorised reductions. Go may fuse x*y+z into an FMA
//     (it does on arm64, and on amd64 with GOAMD64=v3), also across
//     statements and into inlined calls, so every product that feeds a sum
//     (directly, through a variable, or as an inlined function's argument)
//     is rounded by an explicit float32(...), which forbids the fusion.
//     Checked: these files compile to no fused multiply-add for amd64 v3,
//     arm64, ppc64le, s390x and riscv64, and the fixtures pass with
//     GOAMD64=v3.
//   - C's implicit conversions are spelled out: an int multiplied with a
//     float becomes a float first; an int stored into a uint8_t or int8_t
//     array wraps; the wrapped value is what later reads see.
//   - Rounding to an integer is nearest_int's magic-number trick, not
//     math.Round (it rounds halves to even and differs for |x| > 2^22).
//   - float32 to binary16 is ggml's own conversion (kFP32ToFP16), which
//     rounds to nearest even; binary16 to float32 is exact (halfToFloat).
//   - Square roots: float32(math.Sqrt(float64(x))) is sqrtf's correctly
//     rounded result.

// kGroupMaxEps is GROUP_MAX_EPS: below it a group counts as all zero.
const kGroupMaxEps = float32(1e-15)

// kNearestInt is llama.cpp's nearest_int: adding 1.5·2^23 puts the rounded
// value (ties to even) in the low mantissa bits. llama.cpp asserts
// |f| <= 4194303 only in debug builds; beyond that this gives what the
// release build gives.
//
// The float32(f) matters: kNearestInt is inlined, and without it Go may
// fuse the caller's kNearestInt(a*b) into one FMA, where C rounds the
// product when it passes it to nearest_int.
func kNearestInt(f float32) int32 {
	v := float32(f) + 12582912
	return int32(math.Float32bits(v)&0x007fffff) - 0x00400000
}

// kFP32ToFP16 is ggml_compute_fp32_to_fp16 (the portable path that
// libggml-base uses): round to nearest even, overflow to ±Inf, NaN to a
// quiet NaN 0x7e00 with the sign kept.
func kFP32ToFP16(f float32) uint16 {
	const scaleToInf = float32(0x1.0p+112)
	const scaleToZero = float32(0x1.0p-110)
	base := float32(float32(kAbs(f)*scaleToInf) * scaleToZero)
	w := math.Float32bits(f)
	shl1w := w + w
	sign := w & 0x80000000
	bias := shl1w & 0xff000000
	if bias < 0x71000000 {
		bias = 0x71000000
	}
	base = math.Float32frombits(bias>>1+0x07800000) + base
	bits := math.Float32bits(base)
	expBits := bits >> 13 & 0x00007c00
	mantBits := bits & 0x00000fff
	nonsign := expBits + mantBits
	if shl1w > 0xff000000 {
		nonsign = 0x7e00
	}
	return uint16(sign>>16) | uint16(nonsign)
}

// kAbs is fabsf: clears the sign bit.
func kAbs(f float32) float32 {
	return math.Float32frombits(math.Float32bits(f) &^ 0x80000000)
}

// kSqrt is sqrtf.
func kSqrt(f float32) float32 { return float32(math.Sqrt(float64(f))) }

// kPut16 stores a little-endian uint16 at b[0:2].
func kPut16(b []byte, v uint16) {
	_ = b[1]
	b[0] = byte(v)
	b[1] = byte(v >> 8)
}

// kClamp is MAX(lo, MIN(hi, l)).
func kClamp(l, lo, hi int32) int32 {
	if l > hi {
		l = hi
	}
	if l < lo {
		l = lo
	}
	return l
}

// kMakeQxQuants is make_qx_quants: a symmetric scale for n values with
// levels -nmax..nmax-1, stored in L offset by nmax. rmseType 0 rounds with
// the scale that maps the largest magnitude to -nmax; otherwise the scale
// is refitted by weighted least squares and 18 nearby starting scales are
// tried (nmax + 0.1·is, is = -9..9 but 0), each kept only when it fits
// strictly better. Weights are qw when non-nil, else by rmseType: 1 x², 2
// one, 3 |x|, other √|x|. A negative rmseType returns right after the
// first fit, the mean of it and the starting scale.
func kMakeQxQuants(n, nmax int, x []float32, L []int8, rmseType int, qw []float32) float32 {
	x = x[:n]
	L = L[:n]
	var max, amax float32
	for _, v := range x {
		if ax := kAbs(v); ax > amax {
			amax = ax
			max = v
		}
	}
	if amax < kGroupMaxEps {
		for i := range L {
			L[i] = 0
		}
		return 0
	}
	nm := int32(nmax)
	iscale := float32(-nmax) / max
	if rmseType == 0 {
		for i, v := range x {
			l := kNearestInt(iscale * v)
			L[i] = int8(nm + kClamp(l, -nm, nm-1))
		}
		return 1 / iscale
	}
	returnEarly := false
	if rmseType < 0 {
		rmseType = -rmseType
		returnEarly = true
	}
	var wbuf [32]float32
	wts := wbuf[:]
	if n > len(wbuf) {
		wts = make([]float32, n)
	}
	wts = wts[:n]
	for i, v := range x {
		switch {
		case qw != nil:
			wts[i] = qw[i]
		case rmseType == 1:
			wts[i] = float32(v * v)
		case rmseType == 2:
			wts[i] = 1
		case rmseType == 3:
			wts[i] = kAbs(v)
		default:
			wts[i] = kSqrt(kAbs(v))
		}
	}
	var sumlx, suml2 float32
	for i, v := range x {
		l := kClamp(kNearestInt(iscale*v), -nm, nm-1)
		L[i] = int8(l + nm)
		w := wts[i]
		fl := float32(l)
		sumlx += float32(float32(w*v) * fl)
		suml2 += float32(float32(w*fl) * fl)
	}
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	if returnEarly {
		if suml2 > 0 {
			return float32(0.5) * (scale + 1/iscale)
		}
		return 1 / iscale
	}
	best := scale * sumlx
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(float32(nmax) + float32(float32(0.1)*float32(is))) / max
		sumlx, suml2 = 0, 0
		for i, v := range x {
			l := kClamp(kNearestInt(iscale*v), -nm, nm-1)
			w := wts[i]
			fl := float32(l)
			sumlx += float32(float32(w*v) * fl)
			suml2 += float32(float32(w*fl) * fl)
		}
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			for i, v := range x {
				l := kNearestInt(iscale * v)
				L[i] = int8(nm + kClamp(l, -nm, nm-1))
			}
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale
}

// kMakeQ3Quants is make_q3_quants: the symmetric scale of Q3_K's reference
// rounding. With doRMSE the levels start from the max-magnitude scale and
// then, up to 5 passes, each level is moved to its least-squares optimum
// (weights x²) when that strictly improves the fit. L ends offset by nmax.
func kMakeQ3Quants(n, nmax int, x []float32, L []int8, doRMSE bool) float32 {
	x = x[:n]
	L = L[:n]
	var max, amax float32
	for _, v := range x {
		if ax := kAbs(v); ax > amax {
			amax = ax
			max = v
		}
	}
	if amax < kGroupMaxEps {
		for i := range L {
			L[i] = 0
		}
		return 0
	}
	nm := int32(nmax)
	iscale := float32(-nmax) / max
	if doRMSE {
		var sumlx, suml2 float32
		for i, v := range x {
			l := kClamp(kNearestInt(iscale*v), -nm, nm-1)
			L[i] = int8(l)
			w := float32(v * v)
			fl := float32(l)
			sumlx += float32(float32(w*v) * fl)
			suml2 += float32(float32(w*fl) * fl)
		}
		for itry := 0; itry < 5; itry++ {
			nChanged := 0
			for i, v := range x {
				w := float32(v * v)
				li := float32(L[i])
				slx := sumlx - float32(float32(w*v)*li)
				if slx > 0 {
					sl2 := suml2 - float32(float32(w*li)*li)
					newL := kClamp(kNearestInt(float32(v*sl2)/slx), -nm, nm-1)
					if newL != int32(L[i]) {
						fn := float32(newL)
						slx += float32(float32(w*v) * fn)
						sl2 += float32(float32(w*fn) * fn)
						if sl2 > 0 && float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
							L[i] = int8(newL)
							sumlx = slx
							suml2 = sl2
							nChanged++
						}
					}
				}
			}
			if nChanged == 0 {
				break
			}
		}
		for i := range L {
			L[i] += int8(nmax)
		}
		if suml2 > 0 {
			return sumlx / suml2
		}
		return 0
	}
	for i, v := range x {
		l := kClamp(kNearestInt(iscale*v), -nm, nm-1)
		L[i] = int8(l + nm)
	}
	return 1 / iscale
}

// kMakeQkxQuants is make_qkx2_quants (weights required, "max == min"
// counts as flat) and, with qkx3, make_qkx3_quants (nil weights mean x²,
// "max <= min" counts as flat): an asymmetric scale and min for n values
// with levels 0..nmax. After the plain min/max rounding it tries the
// nstep+1 scales (rmin + rdelta·is + nmax)/(max - min), refits scale and
// min by weighted least squares for each, and keeps a fit only when its
// weighted error (|diff| with useMad, else diff²) is strictly lower. The
// min is returned negated in *theMin, as llama.cpp does.
func kMakeQkxQuants(qkx3 bool, n, nmax int, x, weights []float32, L []uint8, theMin *float32, Laux []uint8,
	rmin, rdelta float32, nstep int, useMad bool) float32 {
	x = x[:n]
	L = L[:n]
	Laux = Laux[:n]
	var wbuf [32]float32
	wts := weights
	if wts == nil {
		wts = wbuf[:]
		if n > len(wbuf) {
			wts = make([]float32, n)
		}
		for i, v := range x {
			wts[i] = float32(v * v)
		}
	}
	wts = wts[:n]
	min, max := x[0], x[0]
	sumW := wts[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < min {
			min = x[i]
		}
		if x[i] > max {
			max = x[i]
		}
		wi := wts[i]
		sumW += wi
		sumX += float32(wi * x[i])
	}
	if min > 0 {
		min = 0
	}
	if (!qkx3 && max == min) || (qkx3 && max <= min) {
		for i := range L {
			L[i] = 0
		}
		*theMin = -min
		return 0
	}
	fmax := float32(nmax)
	nm := int32(nmax)
	iscale := fmax / (max - min)
	scale := 1 / iscale
	var bestError float32
	for i, v := range x {
		l := kNearestInt(iscale * (v - min))
		L[i] = uint8(kClamp(l, 0, nm))
		diff := float32(scale*float32(L[i])) + min - v
		if useMad {
			diff = kAbs(diff)
		} else {
			diff = diff * diff
		}
		bestError += float32(wts[i] * diff)
	}
	if nstep < 1 {
		*theMin = -min
		return scale
	}
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + float32(rdelta*float32(is)) + fmax) / (max - min)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := kClamp(kNearestInt(iscale*(v-min)), 0, nm)
			Laux[i] = uint8(l)
			wi := wts[i]
			fl := float32(l)
			sumL += float32(wi * fl)
			sumL2 += float32(float32(wi*fl) * fl)
			sumXL += float32(float32(wi*fl) * v)
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var curError float32
			for i, v := range x {
				diff := float32(thisScale*float32(Laux[i])) + thisMin - v
				if useMad {
					diff = kAbs(diff)
				} else {
					diff = diff * diff
				}
				curError += float32(wts[i] * diff)
			}
			if curError < bestError {
				copy(L, Laux)
				bestError = curError
				scale = thisScale
				min = thisMin
			}
		}
	}
	*theMin = -min
	return scale
}

// kMakeQpQuants is make_qp_quants: a non-negative scale for n non-negative
// values (the sub-block scales or mins) with levels 0..nmax, weighted by
// quantWeights: the best of the max scale and 8 nearby ones (0.1·is +
// nmax, is = -4..4 but 0) by weighted squared error, then up to 5 passes
// of moving single levels to their least-squares optimum.
func kMakeQpQuants(n, nmax int, x []float32, L []uint8, quantWeights []float32) float32 {
	x = x[:n]
	L = L[:n]
	var max float32
	for _, v := range x {
		if !(max > v) {
			max = v
		}
	}
	if max < kGroupMaxEps {
		for i := range L {
			L[i] = 0
		}
		return 0
	}
	nm := int32(nmax)
	iscale := float32(nmax) / max
	for i, v := range x {
		L[i] = uint8(kNearestInt(iscale * v))
	}
	scale := 1 / iscale
	var bestMSE float32
	for i, v := range x {
		diff := v - float32(scale*float32(L[i]))
		wq := quantWeights[i]
		bestMSE += float32(float32(wq*diff) * diff)
	}
	for is := -4; is <= 4; is++ {
		if is == 0 {
			continue
		}
		iscaleIs := (float32(float32(0.1)*float32(is)) + float32(nmax)) / max
		scaleIs := 1 / iscaleIs
		var mse float32
		for i, v := range x {
			l := kNearestInt(iscaleIs * v)
			if l > nm {
				l = nm
			}
			diff := v - float32(scaleIs*float32(l))
			wq := quantWeights[i]
			mse += float32(float32(wq*diff) * diff)
		}
		if mse < bestMSE {
			bestMSE = mse
			iscale = iscaleIs
		}
	}
	var sumlx, suml2 float32
	for i, v := range x {
		l := kNearestInt(iscale * v)
		if l > nm {
			l = nm
		}
		L[i] = uint8(l)
		wq := quantWeights[i]
		fl := float32(l)
		sumlx += float32(float32(wq*v) * fl)
		suml2 += float32(float32(wq*fl) * fl)
	}
	for itry := 0; itry < 5; itry++ {
		nChanged := 0
		for i, v := range x {
			wq := quantWeights[i]
			li := float32(L[i])
			slx := sumlx - float32(float32(wq*v)*li)
			sl2 := suml2 - float32(float32(wq*li)*li)
			if slx > 0 && sl2 > 0 {
				newL := kNearestInt(float32(v*sl2) / slx)
				if newL > nm {
					newL = nm
				}
				if newL != int32(L[i]) {
					fn := float32(newL)
					slx += float32(float32(wq*v) * fn)
					sl2 += float32(float32(wq*fn) * fn)
					if float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
						L[i] = uint8(newL)
						sumlx = slx
						suml2 = sl2
						nChanged++
					}
				}
			}
		}
		if nChanged == 0 {
			break
		}
	}
	if suml2 > 0 {
		return sumlx / suml2
	}
	return 0
}

// kPackScalesMins6 packs eight 6-bit scales and mins into Q4_K's and
// Q5_K's 12-byte field, the inverse of kScalesMins (half.go).
func kPackScalesMins6(dst []byte, ls, lm *[8]uint8) {
	s := (*[12]byte)(dst[:12])
	for j := 0; j < 8; j++ {
		if j < 4 {
			s[j] = ls[j]
			s[j+4] = lm[j]
		} else {
			s[j+4] = ls[j]&0x0f | (lm[j]&0x0f)<<4
			s[j-4] |= (ls[j] >> 4) << 6
			s[j] |= (lm[j] >> 4) << 6
		}
	}
}

// kSubs holds what the final step of a K-quant's quantiser rounds with,
// taken from the stored block: per sub-block the scale dd = d·sc and, for
// the types with a minimum (Q2_K, Q4_K, Q5_K), dm = dmin·m, each the
// float32 product the dequantiser forms. Every value of a sub-block with
// dd ≠ 0 is re-rounded to nearest_int((x + dm)/dd) (x/dd for the
// symmetric Q3_K and Q6_K) clamped to lo..hi; its code is the level less
// lo. llama.cpp skips the sub-blocks whose dd is 0: their values keep the
// codes of the sub-block's scale search, and all dequantise alike.
type kSubs struct {
	dd, dm [QK_K / 16]float32
	shift  uint  // sub-block of value j: j >> shift (sub-blocks of 16 or 32)
	lo, hi int32 // the levels: 0..nmax, or -4..3 (Q3_K), -32..31 (Q6_K)
}

// level is the code the re-rounding gives value x at j; ok is false in a
// sub-block that llama.cpp does not re-round.
func (s *kSubs) level(j int, x float32) (q uint8, ok bool) {
	k := j >> s.shift
	dd := s.dd[k]
	if dd == 0 {
		return 0, false
	}
	var f float32
	if s.lo == 0 {
		f = (x + s.dm[k]) / dd
	} else {
		f = x / dd
	}
	return uint8(kLevel(f, s.lo, s.hi) - s.lo), true
}

// requant re-rounds the values x of a super-block into codes, as the
// quantisers' last step does.
func (s *kSubs) requant(codes *[QK_K]uint8, x []float32) {
	for j, v := range x[:QK_K] {
		if q, ok := s.level(j, v); ok {
			codes[j] = q
		}
	}
}

// value is what code q at j dequantises to: dd·q - dm for the types with
// a minimum, dd·(q + lo) for the symmetric ones.
func (s *kSubs) value(j int, q uint8) float32 {
	k := j >> s.shift
	if s.lo < 0 {
		return s.dd[k] * float32(int32(q)+s.lo)
	}
	return float32(s.dd[k]*float32(q)) - s.dm[k]
}

// kLevel is MAX(lo, MIN(hi, nearest_int(f))), except that a finite f too
// large for nearest_int's trick (|f| >= 2^22, which llama.cpp asserts
// against) saturates instead of giving a wrapped-around level.
func kLevel(f float32, lo, hi int32) int32 {
	switch {
	case f >= 0x1p22 && f <= math.MaxFloat32:
		return hi
	case f <= -0x1p22 && f >= -math.MaxFloat32:
		return lo
	}
	return kClamp(kNearestInt(f), lo, hi)
}

// kFitFunc quantises super-block b of values x (importance weights qw or
// nil), leaving in codes the final codes of its values and in s what
// they were re-rounded with.
type kFitFunc func(b []byte, x, qw []float32, codes *[QK_K]uint8, s *kSubs)

// kQuantizeRow quantises a row super-block by super-block with fit.
func kQuantizeRow(name string, dst []byte, src, imatrix []float32, blockBytes int, fit kFitFunc) {
	nb := kCheckRow(name, dst, src, imatrix, blockBytes)
	var codes [QK_K]uint8
	var s kSubs
	for i := 0; i < nb; i++ {
		var qw []float32
		if imatrix != nil {
			qw = imatrix[i*QK_K : (i+1)*QK_K]
		}
		fit(dst[i*blockBytes:(i+1)*blockBytes], src[i*QK_K:(i+1)*QK_K], qw, &codes, &s)
	}
}

// kPack stores the codes of a super-block with put.
func kPack(b []byte, codes *[QK_K]uint8, put func(b []byte, j int, q uint8)) {
	for j, q := range codes {
		put(b, j, q)
	}
}

// kRounder is the Rounder of Q2_K … Q6_K: Fit runs the type's fit, Round
// re-rounds one value as its last step does and stores the code with put
// (leaving the fitted code in a sub-block llama.cpp does not re-round).
type kRounder struct {
	fit   kFitFunc
	put   func(b []byte, j int, q uint8)
	codes [QK_K]uint8
	s     kSubs
}

func (r *kRounder) Fit(dst []byte, _ int, x, imatrix []float32) {
	r.fit(dst, x, imatrix, &r.codes, &r.s)
}

func (r *kRounder) Round(dst []byte, j int, x float32) float32 {
	if q, ok := r.s.level(j, x); ok {
		r.codes[j] = q
		r.put(dst, j, q)
	}
	return r.s.value(j, r.codes[j])
}

// kNewRounder returns a constructor of kRounders for registerRounder.
func kNewRounder(fit kFitFunc, put func(b []byte, j int, q uint8)) func(row, imatrix []float32) Rounder {
	return func(_, _ []float32) Rounder { return &kRounder{fit: fit, put: put} }
}

// kSumSquares is the float32 sum of x² in order, as llama.cpp's loops.
func kSumSquares(x []float32) float32 {
	var s float32
	for _, v := range x {
		s += float32(v * v)
	}
	return s
}

// kCheckRow panics unless src is a whole number of super-blocks and dst
// holds exactly their blocks; the callers (Type.Quantize) have checked
// this already, so a panic is a programming error.
func kCheckRow(name string, dst []byte, src []float32, imatrix []float32, blockBytes int) int {
	if len(src)%QK_K != 0 || len(dst) != len(src)/QK_K*blockBytes || (imatrix != nil && len(imatrix) != len(src)) {
		panic("ggml: " + name + " quantiser: row of " + strconv.Itoa(len(src)) + " values into " + strconv.Itoa(len(dst)) +
			" bytes with " + strconv.Itoa(len(imatrix)) + " weights")
	}
	return len(src) / QK_K
}
