package quant

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/hyquant/hyquant/kernels/ggml"
)

// blockTypes are the llama.cpp types GPTQ rounds into.
var blockTypes = []ggml.Type{ggml.Q8_0, ggml.Q4_0, ggml.Q4_1, ggml.Q5_0, ggml.Q5_1, ggml.Q2_K, ggml.Q3_K, ggml.Q4_K, ggml.Q5_K, ggml.Q6_K, ggml.IQ4_NL, ggml.IQ4_XS}

func randomWeights(rng *rand.Rand, n int) []float32 {
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 0.02)
		if rng.IntN(97) == 0 {
			w[i] *= 12 // an outlier now and then
		}
	}
	return w
}

// TestGPTQBlocksIdentityIsRTN: with H = I no error is spread, so GPTQ into
// a block type writes llama-quantize's blocks bit for bit, plain and with
// an importance matrix.
func TestGPTQBlocksIdentityIsRTN(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const rows, cols = 6, 512
	w := randomWeights(rng, rows*cols)
	imp := make([]float32, cols)
	for i := range imp {
		imp[i] = float32(rng.ExpFloat64())
	}
	for _, typ := range blockTypes {
		for _, im := range [][]float32{nil, imp} {
			rb, _ := typ.RowBytes(cols)
			want := make([]byte, rows*int(rb))
			if err := typ.Quantize(want, w, rows, cols, im); err != nil {
				t.Fatal(err)
			}
			h := make([]float64, cols*cols)
			for i := 0; i < cols; i++ {
				h[i*cols+i] = 1
			}
			got, err := RoundGPTQBlocks(widen(w), h, rows, cols, typ, im, GPTQOptions{}, "w")
			if err != nil {
				t.Fatalf("%s: %v", typ, err)
			}
			if !bytes.Equal(got, want) {
				n := 0
				for i := range got {
					if got[i] != want[i] {
						n++
					}
				}
				t.Errorf("%s (imatrix %v): %d of %d bytes differ from llama-quantize's rounding", typ, im != nil, n, len(got))
			}
		}
	}
}

// TestGPTQBlocksLowersOutputError: on correlated inputs GPTQ's blocks
// reconstruct W·X better than llama-quantize's rounding of the same type,
// measured as ||(W − Ŵ)·X||² (the loss GPTQ minimises).
func TestGPTQBlocksLowersOutputError(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const rows, cols, n = 16, 256, 2048
	w := randomWeights(rng, rows*cols)
	// Inputs with correlated columns: x = z·M, M random mixing.
	mix := make([]float64, cols*cols)
	for i := range mix {
		mix[i] = rng.NormFloat64() / 16
	}
	xtx := make([]float64, cols*cols)
	x := make([]float64, cols)
	z := make([]float64, cols)
	for s := 0; s < n; s++ {
		for i := range z {
			z[i] = rng.NormFloat64()
		}
		for j := 0; j < cols; j++ {
			x[j] = z[j]
			for i := 0; i < cols; i += 8 {
				x[j] += z[i] * mix[i*cols+j]
			}
		}
		for i := 0; i < cols; i++ {
			for j := 0; j < cols; j++ {
				xtx[i*cols+j] += x[i] * x[j]
			}
		}
	}
	loss := func(q []float32) float64 {
		var total float64
		for r := 0; r < rows; r++ {
			d := make([]float64, cols)
			for c := range d {
				d[c] = float64(w[r*cols+c]) - float64(q[r*cols+c])
			}
			for i := 0; i < cols; i++ {
				for j := 0; j < cols; j++ {
					total += d[i] * xtx[i*cols+j] * d[j]
				}
			}
		}
		return total
	}
	for _, typ := range []ggml.Type{ggml.Q4_0, ggml.Q4_K, ggml.Q3_K, ggml.Q2_K, ggml.IQ4_XS, ggml.Q8_0} {
		rb, _ := typ.RowBytes(cols)
		rtn := make([]byte, rows*int(rb))
		if err := typ.Quantize(rtn, w, rows, cols, nil); err != nil {
			t.Fatal(err)
		}
		h := make([]float64, len(xtx))
		for i, v := range xtx {
			h[i] = 2 * v / n
		}
		g, err := RoundGPTQBlocks(widen(w), h, rows, cols, typ, nil, GPTQOptions{}, "w")
		if err != nil {
			t.Fatal(err)
		}
		qr, qg := make([]float32, rows*cols), make([]float32, rows*cols)
		typ.Dequantize(qr, rtn)
		typ.Dequantize(qg, g)
		lr, lg := loss(qr), loss(qg)
		t.Logf("%s: output error rtn %.4g, gptq %.4g (%.0f%%)", typ, lr, lg, 100*lg/lr)
		if !(lg < 0.9*lr) {
			t.Errorf("%s: GPTQ's output error %.4g is not 10%% below llama-quantize's rounding (%.4g)", typ, lg, lr)
		}
	}
}
