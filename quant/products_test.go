package quant

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/quant/grid"
)

// recordingProducts computes on the host and counts the products it got,
// or fails the n-th one.
type recordingProducts struct {
	nt, nn int
	failAt int // 1-based; 0: never
}

func (p *recordingProducts) fail() error {
	if p.failAt > 0 && p.nt+p.nn == p.failAt {
		return errors.New("device lost")
	}
	return nil
}

func (p *recordingProducts) MatMulNT(c, a, b []float32, m, n, k int) error {
	p.nt++
	if err := p.fail(); err != nil {
		return err
	}
	return HostProducts{}.MatMulNT(c, a, b, m, n, k)
}

func (p *recordingProducts) MatMulNN(c, a, b []float32, m, n, k int) error {
	p.nn++
	if err := p.fail(); err != nil {
		return err
	}
	return HostProducts{}.MatMulNN(c, a, b, m, n, k)
}

// GPTQ's large products go where the statistics say (the device that
// computed them), all rows of a lazy update at once there, with the host's
// codes bit for bit when that place computes what the host does; a failed
// product is an error naming the layer.
func TestGPTQProductsFromStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	rows, cols := 300, 320 // cols > choleskyBase (recursion) and > the block (lazy updates)
	w := randomMatrix(rng, rows, cols)
	st := correlatedStats(rng, 400, cols)
	a := gptqAssignment(rows, cols, 4, grid.Granularity{Kind: grid.PerGroup, GroupSize: 64}, true, GPTQOptions{})

	host, err := GPTQ{}.Quantize(w, a, st)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingProducts{}
	st.Products = rec
	got, err := GPTQ{}.Quantize(w, a, st)
	if err != nil {
		t.Fatal(err)
	}
	// The recursion splits 320 into 192 + 128 and 192 into 128 + 64: four
	// products at each of its two splits. Blocks of 128 over 320 columns
	// leave two lazy updates, one NN product each.
	if rec.nt != 4 || rec.nn != 6 {
		t.Errorf("products on the statistics' device: %d NT and %d NN, want 4 and 6", rec.nt, rec.nn)
	}
	if !slices.Equal(got.Q.Codes, host.Q.Codes) {
		t.Error("codes differ from the host's with the same products")
	}

	// GPTQ into llama.cpp's blocks takes the same route.
	kc := 512
	wk, sk := randomMatrix(rng, 16, kc), correlatedStats(rng, 600, kc)
	hostBlocks, err := RoundGPTQBlocks(widen(wk), sk.Hessian(), 16, kc, ggml.Q4_K, nil, GPTQOptions{}, "blk.0.ffn_down")
	if err != nil {
		t.Fatal(err)
	}
	rk := &recordingProducts{}
	blocks, err := RoundGPTQBlocks(widen(wk), sk.Hessian(), 16, kc, ggml.Q4_K, nil, GPTQOptions{Products: rk}, "blk.0.ffn_down")
	if err != nil {
		t.Fatal(err)
	}
	// 512 = 256 + 256, each half 128 + 128: 12 products; lazy blocks of
	// 256 (Q4_K's block) leave one update.
	if rk.nt != 6 || rk.nn != 7 || !slices.Equal(blocks, hostBlocks) {
		t.Errorf("q4_K: %d NT and %d NN products (want 6 and 7), blocks equal to the host's: %v", rk.nt, rk.nn, slices.Equal(blocks, hostBlocks))
	}

	st.Products = &recordingProducts{failAt: 3}
	if _, err := (GPTQ{}).Quantize(w, a, st); err == nil || !strings.Contains(err.Error(), "device lost") || !strings.Contains(err.Error(), a.Param.Name) {
		t.Errorf("a failed product: %v", err)
	}
}
