package reports

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/hyquant/hyquant/internal/pngcheck"
	"github.com/hyquant/hyquant/plans"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// TestPrecisionMap draws seed-emb8 on the mini: one cell per projection
// and the embedding (46), each with the plan's exact bits per weight
// (4-bit codes with an fp16 scale per 128 are 4.125; channel8 is 8 bits
// plus an fp16 scale per row: 8.0625 for rows of 256, 8.0125 for
// down_proj's rows of 1280).
func TestPrecisionMap(t *testing.T) {
	mf, err := runtime.ResolveModel("")
	if err != nil {
		t.Fatal(err)
	}
	p, err := plans.Load("seed-emb8")
	if err != nil {
		t.Fatal(err)
	}
	r, err := p.Resolve(runtime.BuildInventory(mf.Config), func(string) safetensors.DType { return safetensors.BF16 })
	if err != nil {
		t.Fatal(err)
	}
	cells := precisionCells(r)
	if len(cells) != 46 {
		t.Fatalf("%d cells, want 46 (8 Mamba × 2 + 10 MLP × 2 + 2 attention × 4 + embedding + lm_head)", len(cells))
	}
	for _, c := range cells {
		want := 8 + 16.0/256 // rows of 256 inputs
		if c.cat == runtime.MLPDown {
			want = 8 + 16.0/1280
		}
		if c.cat == runtime.SSMInProj || c.cat == runtime.SSMOutProj {
			want = 4 + 16.0/128
		}
		if math.Abs(c.bpw-want) > 1e-12 {
			t.Errorf("layer %d %s: %g bits per weight, want %g", c.layer, c.cat, c.bpw, want)
		}
		if c.cat == runtime.LMHead && c.layer != len(mf.Config.Layers) || c.cat == runtime.Embedding && c.layer != -1 {
			t.Errorf("%s drawn at column %d", c.cat, c.layer)
		}
	}
	path := filepath.Join(t.TempDir(), "map.png")
	if err := PrecisionMap(path, "seed-emb8", []string{"test"}, r); err != nil {
		t.Fatal(err)
	}
	img, err := pngcheck.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 800 {
		t.Errorf("figure is %v", b)
	}
}
