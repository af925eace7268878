package ggml

// Pieces shared by the 2-3 bit i-quants (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS,
// IQ3_S; their binary16 block scale converts with halfToFloat): the ±1 factors a sign byte stands for,
// float32 copies of the grids (generated, as bytes, in grids.go) and the
// 8-value store all five share.

// iqSigns[b][j] is the factor llama.cpp multiplies value j of an 8-value
// group by when its sign byte is b: -1 where b&kmask_iq2xs[j] is set, else
// +1. Multiplying by it (rather than flipping the sign bit) is what
// llama.cpp does, so zeros and infinities come out with the same sign.
var iqSigns [256][8]float32

func init() {
	for b := range iqSigns {
		for j := range 8 {
			iqSigns[b][j] = 1
			if uint8(b)&kmask_iq2xs[j] != 0 {
				iqSigns[b][j] = -1
			}
		}
	}
}

// The grids widened to float32 once, so that the inner loops multiply
// without unpacking bytes (the values are small integers: exact).
var (
	iq2xxsGridF [len(iq2xxs_grid)][8]float32
	iq2xsGridF  [len(iq2xs_grid)][8]float32
	iq2sGridF   [len(iq2s_grid)][8]float32
	iq3xxsGridF [len(iq3xxs_grid)][4]float32
	iq3sGridF   [len(iq3s_grid)][4]float32
)

func init() {
	widen8 := func(dst [][8]float32, src []uint64) {
		for i, g := range src {
			for j := range 8 {
				dst[i][j] = float32(uint8(g >> (8 * j)))
			}
		}
	}
	widen4 := func(dst [][4]float32, src []uint32) {
		for i, g := range src {
			for j := range 4 {
				dst[i][j] = float32(uint8(g >> (8 * j)))
			}
		}
	}
	widen8(iq2xxsGridF[:], iq2xxs_grid[:])
	widen8(iq2xsGridF[:], iq2xs_grid[:])
	widen8(iq2sGridF[:], iq2s_grid[:])
	widen4(iq3xxsGridF[:], iq3xxs_grid[:])
	widen4(iq3sGridF[:], iq3s_grid[:])
}

// iqPut8f writes the 8 values of one group: y[j] = db * g[j] * s[j],
// rounded after each product as llama.cpp's float arithmetic is.
func iqPut8f(y *[8]float32, db float32, g, s *[8]float32) {
	for j := range y {
		y[j] = float32(db*g[j]) * s[j]
	}
}

// iqPut4x2f is iqPut8f for two 4-value grid entries (IQ3_XXS, IQ3_S): g1
// gives values 0-3, g2 values 4-7.
func iqPut4x2f(y *[8]float32, db float32, g1, g2 *[4]float32, s *[8]float32) {
	for j := range 4 {
		y[j] = float32(db*g1[j]) * s[j]
		y[4+j] = float32(db*g2[j]) * s[4+j]
	}
}
