package ggml

import "math"

// IQ4_NL quantisation as llama-quantize does it: quantize_iq4_nl, which
// runs quantize_row_iq4_nl_impl on each block of 32 on its own (super-block
// and block size both 32, ntry 7), with or without importance weights.
//
// Per block: sigma2 = 2·(sum of x²)/32 over the block; weights
// imatrix[j]·sqrt(sigma2 + x²), or x² without an imatrix. With max the
// value of largest magnitude, a first scale d = -max/-127 assigns every
// value its nearest code-book entry (kvaluesIQ4NL) and gives the weighted
// least-squares scale; 15 more inverse scales (itry-127)/max, itry in
// -7..7, may give a better one. d is stored as binary16 and every value
// takes the nearest entry of x/d, d unrounded.
//
// The Rounder codes a value the same way: the nearest entry of x/d.

func init() {
	registerQuantizer(IQ4_NL, quantizeIQ4_NL)
	registerRounder(IQ4_NL, newRounderIQ4_NL)
}

func quantizeIQ4_NL(dst []byte, src []float32, imatrix []float32) {
	nb := len(src) / 32
	for i := 0; i < nb; i++ {
		var qw []float32
		if imatrix != nil {
			qw = imatrix[i*32 : i*32+32]
		}
		fitIQ4_NL((*[iq4_NLBytes]byte)(dst[i*iq4_NLBytes:]), (*[32]float32)(src[i*32:]), qw)
	}
}

// fitIQ4_NL quantises one block and returns the 1/d (of the unrounded d)
// its codes are taken with.
func fitIQ4_NL(b *[iq4_NLBytes]byte, x *[32]float32, qw []float32) (id float32) {
	d := iq4NLBlockScale(x, qw)
	legacyPutHalf(b[0:2], legacyFP32ToFP16(d))
	if d != 0 {
		id = 1 / d
	}
	for j := 0; j < 16; j++ {
		b[2+j] = bestIndexIQ4NL(float32(id*x[j])) | bestIndexIQ4NL(float32(id*x[j+16]))<<4
	}
	return id
}

// iq4NLBlockScale is the scale search of quantize_row_iq4_nl_impl for one
// block of 32 on its own: the unrounded d.
func iq4NLBlockScale(x *[32]float32, qw []float32) float32 {
	const ntry = 7
	values := &kvaluesIQ4NL

	var sigma2 float32
	for _, v := range x {
		sigma2 += float32(v * v)
	}
	// Rounded here: Go may otherwise fuse this product into an FMA with
	// the sigma2 + x² below (arm64 did).
	sigma2 = float32(sigma2 * (2.0 / 32))

	var w [32]float32
	if qw != nil {
		qw = qw[:32]
		for j, v := range x {
			w[j] = qw[j] * float32(math.Sqrt(float64(sigma2+float32(v*v))))
		}
	} else {
		for j, v := range x {
			w[j] = v * v
		}
	}

	var amax, max float32
	for _, v := range x {
		if av := legacyAbs(v); av > amax {
			amax, max = av, v
		}
	}
	var d float32
	if amax >= legacyGroupMaxEps {
		d = -max / float32(values[0])
		id := 1 / d
		var sumqx, sumq2 float32
		for j, v := range x {
			q := float32(values[bestIndexIQ4NL(float32(id*v))])
			wq := float32(w[j] * q)
			sumqx += float32(wq * v)
			sumq2 += float32(wq * q)
		}
		d = 0
		if sumq2 > 0 {
			d = sumqx / sumq2
		}
		best := d * sumqx
		for itry := -ntry; itry <= ntry; itry++ {
			id = float32(itry+int(values[0])) / max
			sumqx, sumq2 = 0, 0
			for j, v := range x {
				q := float32(values[bestIndexIQ4NL(float32(id*v))])
				wq := float32(w[j] * q)
				sumqx += float32(wq * v)
				sumq2 += float32(wq * q)
			}
			if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
				d = sumqx / sumq2
				best = d * sumqx
			}
		}
	}
	return d
}

// rounderIQ4_NL is IQ4_NL's Rounder: the fitted block's 1/d and stored d.
type rounderIQ4_NL struct{ id, d float32 }

func newRounderIQ4_NL(_, _ []float32) Rounder { return new(rounderIQ4_NL) }

func (r *rounderIQ4_NL) Fit(dst []byte, _ int, x, imatrix []float32) {
	b := (*[iq4_NLBytes]byte)(dst)
	r.id = fitIQ4_NL(b, (*[32]float32)(x), imatrix)
	r.d = halfToFloat(le16(b[0:]))
}

func (r *rounderIQ4_NL) Round(dst []byte, j int, x float32) float32 {
	q := bestIndexIQ4NL(float32(r.id * x))
	legacyPutNibble(dst[2:18], j, q)
	return r.d * float32(kvaluesIQ4NL[q])
}

// bestIndexIQ4NL is best_index_int8(16, kvalues_iq4nl, x): the index
// of the code-book entry nearest x, the upper one on a tie; 15 for NaN
// (its comparisons all fail). C finds the bracket val[mu-1] <= x < val[mu]
// by bisection; the entries being integers, floor(x) determines it, which
// a table gives. The final choice keeps C's float32 subtractions.
func bestIndexIQ4NL(x float32) uint8 {
	if x <= -127 {
		return 0
	}
	if !(x < 113) {
		return 15
	}
	x = float32(x) // a rounding point: callers' products must not fuse into the subtractions below
	t := int(x)    // toward zero; floor below
	if float32(t) > x {
		t--
	}
	mu := legacyIQ4NLUpper[t+127]
	if x-float32(kvaluesIQ4NL[mu-1]) < float32(kvaluesIQ4NL[mu])-x {
		return mu - 1
	}
	return mu
}

// legacyIQ4NLUpper[f+127], for an integer f in [-127, 112], is the first
// index mu with f < kvaluesIQ4NL[mu].
var legacyIQ4NLUpper = func() (t [240]uint8) {
	for i := range t {
		f := i - 127
		mu := 1
		for f >= int(kvaluesIQ4NL[mu]) {
			mu++
		}
		t[i] = uint8(mu)
	}
	return t
}()
