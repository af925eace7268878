package ggml

// Q4_K quantisation, as llama-quantize does it (ggml_quantize_chunk →
// quantize_q4_K): without importance weights quantize_row_q4_K_ref, with
// them quantize_row_q4_K_impl. The block layout is in q4_k.go.
//
// Reference: per sub-block of 32, make_qkx2_quants with weights
// rms(sub-block) + |x| (levels 0..15, 21 steps from -1 by 0.1, squared
// error); scales and mins are rounded to 6 bits against their maxima
// (d = max/63, dmin = maxmin/63); then every value is re-rounded with the
// stored scales.
//
// Importance: weights imatrix·sqrt(2σ² + x²) (σ² the super-block's mean
// square), make_qkx3_quants (37 steps from -0.9 by 0.05); scales and mins
// through make_qp_quants weighted by each sub-block's summed weight; then
// re-rounding as above.
//
// The Rounder re-rounds a value as that last step does (kSubs):
// nearest_int((x + dmin·m)/(d·sc)) clamped to 0..15.

func init() {
	registerQuantizer(Q4_K, quantizeQ4_K)
	registerRounder(Q4_K, kNewRounder(fitQ4_K, putCodeQ4_K))
}

func quantizeQ4_K(dst []byte, src []float32, imatrix []float32) {
	kQuantizeRow("q4_K", dst, src, imatrix, q4_KBytes, fitQ4_K)
}

// fitQ4_K is Q4_K's kFitFunc.
func fitQ4_K(b []byte, x, qw []float32, codes *[QK_K]uint8, s *kSubs) {
	kFitQ45(b, x, qw, codes, s, kQ45{nmax: 15, rmin: -1, rdelta: 0.1, nstep: 20, clamp63: false})
	kPack(b, codes, putCodeQ4_K)
}

// putCodeQ4_K stores the 4-bit code of value j: byte 32c+l of qs holds
// values 64c+l (low nibble) and 64c+32+l (high nibble).
func putCodeQ4_K(b []byte, j int, q uint8) {
	setBits(b[16:144], 32*(j/64)+j%32, uint(j/32%2)*4, 4, q)
}

// kQ45 is what Q4_K's and Q5_K's quantisers differ in up to the packing
// of the codes: the levels 0..nmax, the reference search's steps
// (make_qkx2_quants' rmin, rdelta, nstep) and whether the importance path
// clamps its 6-bit scales and mins to 63 (kScalesImplQ45).
type kQ45 struct {
	nmax         int
	rmin, rdelta float32
	nstep        int
	clamp63      bool
}

// kFitQ45 is the shared part of fitQ4_K and fitQ5_K: the scale search
// (reference or importance-weighted), then the re-rounding of every value
// with the stored scales, leaving the codes to pack.
func kFitQ45(b []byte, x, qw []float32, codes *[QK_K]uint8, s *kSubs, p kQ45) {
	if qw == nil {
		kScalesRefQ45(b, x, codes, p.nmax, p.rmin, p.rdelta, p.nstep)
	} else {
		kScalesImplQ45(b, x, qw, codes, p.nmax, p.clamp63)
	}
	*s = kSubsQ45(b, int32(p.nmax))
	s.requant(codes, x)
}

// kSubsQ45 reads the sub-block scales of a Q4_K or Q5_K super-block (codes
// 0..nmax): the binary16 d and dmin times each sub-block's 6-bit scale and
// min.
func kSubsQ45(b []byte, nmax int32) kSubs {
	s := kSubs{shift: 5, lo: 0, hi: nmax}
	d := halfToFloat(le16(b[0:]))
	dmin := halfToFloat(le16(b[2:]))
	sc, mn := kScalesMins((*[12]byte)(b[4:16]))
	for j := range sc {
		s.dd[j] = float32(d * float32(sc[j]))
		s.dm[j] = float32(dmin * float32(mn[j]))
	}
	return s
}

// kScalesRefQ45 is the shared part of quantize_row_q4_K_ref and
// quantize_row_q5_K_ref (nmax 15 or 31 and their search parameters) up
// to the re-rounding: it fills d, dmin and the scales field of block b and
// leaves the search's levels in L.
func kScalesRefQ45(b []byte, x []float32, L *[QK_K]uint8, nmax int, rmin, rdelta float32, nstep int) {
	var laux [32]uint8
	var weights [32]float32
	var mins, scales [QK_K / 32]float32

	var maxScale, maxMin float32
	for j := 0; j < QK_K/32; j++ {
		xs := x[32*j : 32*j+32]
		avX := kSqrt(kSumSquares(xs) / 32)
		for l, v := range xs {
			weights[l] = avX + kAbs(v)
		}
		scales[j] = kMakeQkxQuants(false, 32, nmax, xs, weights[:], L[32*j:32*j+32], &mins[j], laux[:], rmin, rdelta, nstep, false)
		if scales[j] > maxScale {
			maxScale = scales[j]
		}
		if mins[j] > maxMin {
			maxMin = mins[j]
		}
	}

	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	var ls, lm [8]uint8
	for j := 0; j < QK_K/32; j++ {
		ls[j] = min(63, uint8(kNearestInt(invScale*scales[j])))
		lm[j] = min(63, uint8(kNearestInt(invMin*mins[j])))
	}
	kPackScalesMins6(b[4:16], &ls, &lm)
	kPut16(b[0:], kFP32ToFP16(maxScale/63))
	kPut16(b[2:], kFP32ToFP16(maxMin/63))
}

// kScalesImplQ45 is the shared part of quantize_row_q4_K_impl and
// quantize_row_q5_K_impl with importance weights qw (one super-block's),
// up to the re-rounding.
// Q5_K clamps the 6-bit scales and mins to 63 (clamp63), Q4_K does not:
// make_qp_quants caps its levels at 63 but a negative one would wrap in
// its uint8_t, and then the two differ.
func kScalesImplQ45(b []byte, x, qw []float32, L *[QK_K]uint8, nmax int, clamp63 bool) {
	var laux [32]uint8
	var ls, lm [QK_K / 32]uint8
	var weights [32]float32
	var sw, mins, scales [QK_K / 32]float32

	sigma2 := float32(2 * kSumSquares(x) / QK_K) // rounded: no FMA with the sum below
	for j := 0; j < QK_K/32; j++ {
		xs := x[32*j : 32*j+32]
		for l, v := range xs {
			weights[l] = qw[32*j+l] * kSqrt(sigma2+float32(v*v))
		}
		var sumw float32
		for _, w := range weights {
			sumw += w
		}
		sw[j] = sumw
		scales[j] = kMakeQkxQuants(true, 32, nmax, xs, weights[:], L[32*j:32*j+32], &mins[j], laux[:], -0.9, 0.05, 36, false)
	}
	dBlock := kMakeQpQuants(QK_K/32, 63, scales[:], ls[:], sw[:])
	mBlock := kMakeQpQuants(QK_K/32, 63, mins[:], lm[:], sw[:])
	if clamp63 {
		for j := range ls {
			ls[j] = min(63, ls[j])
			lm[j] = min(63, lm[j])
		}
	}
	kPackScalesMins6(b[4:16], &ls, &lm)
	kPut16(b[0:], kFP32ToFP16(dBlock))
	kPut16(b[2:], kFP32ToFP16(mBlock))
}
