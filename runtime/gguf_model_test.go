package runtime

import (
	"bytes"
	"math"
	"os"
	"reflect"
	"testing"

	"github.com/hyquant/hyquant/runtime/safetensors"
)

// The two files llama.cpp wrote from the mini (../shared/README.md): the
// converter's bf16 file lives only in shared/ (30 MB); llama-quantize's
// Q4_K_M (9.9 MB) is also committed here (testdata/README.md).
const (
	sharedBF16GGUF = "../../shared/reference/nemotron-h-mini.bf16.gguf"
	q4kmGGUF       = "testdata/nemotron-h-mini.Q4_K_M.gguf"
)

func needFile(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s is not here (it comes with shared/): %v", path, err)
	}
}

// The converter's metadata describes exactly the mini's config.json.
func TestGGUFConfigEqualsHubConfig(t *testing.T) {
	for _, path := range []string{q4kmGGUF, sharedBF16GGUF} {
		t.Run(path, func(t *testing.T) {
			needFile(t, path)
			f, c, ck, err := OpenGGUFModel(path)
			if err != nil {
				t.Fatal(err)
			}
			defer ck.Close()
			_ = f
			want, err := LoadConfig(miniConfig)
			if err != nil {
				t.Fatal(err)
			}
			got := *c
			got.Source, got.ChunkSize = want.Source, want.ChunkSize
			if !reflect.DeepEqual(&got, want) {
				t.Errorf("config from %s:\n got  %+v\n want %+v", path, got, *want)
			}
			// And it survives config.json.
			js, err := c.HubJSON()
			if err != nil {
				t.Fatal(err)
			}
			back, err := ParseConfig(js, "HubJSON")
			if err != nil {
				t.Fatal(err)
			}
			back.Source = c.Source
			if !reflect.DeepEqual(back, c) {
				t.Errorf("HubJSON round trip:\n got  %+v\n want %+v", *back, *c)
			}
		})
	}
}

// Tensor for tensor, the converter's bf16 file read under Hub names holds
// the Hub checkpoint's bytes: reshapes undone, q/k un-permuted, and A_log
// recovered from A = -exp(A_log) to the same float32 value.
func TestGGUFBF16TensorsEqualHubCheckpoint(t *testing.T) {
	needFile(t, sharedBF16GGUF)
	_, c, gk, err := OpenGGUFModel(sharedBF16GGUF)
	if err != nil {
		t.Fatal(err)
	}
	defer gk.Close()
	hk, err := OpenCheckpoint("../models/nemotron-h-mini")
	if err != nil {
		t.Fatal(err)
	}
	defer hk.Close()
	inv := BuildInventory(c)
	if err := inv.CheckAgainst(gk); err != nil {
		t.Fatal(err)
	}
	for _, p := range inv.Params {
		hraw, hti, err := hk.Raw(p.Name)
		if err != nil {
			t.Fatal(err)
		}
		graw, gti, err := gk.Raw(p.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gti.Shape, hti.Shape) {
			t.Errorf("%s: shape %v, Hub %v", p.Name, gti.Shape, hti.Shape)
		}
		if gti.DType == hti.DType {
			if !bytes.Equal(graw, hraw) {
				t.Errorf("%s: %s bytes differ from the Hub checkpoint's", p.Name, gti.DType)
			}
			continue
		}
		// F32 in the file (A_log via ssm_a, conv1d, norms): same values.
		hv, _ := hk.Float32(p.Name)
		gv, _ := gk.Float32(p.Name)
		for i := range hv {
			if gv[i] != hv[i] {
				t.Errorf("%s[%d]: %g from the GGUF (%s), %g in the Hub checkpoint (%s)", p.Name, i, gv[i], gti.DType, hv[i], hti.DType)
				break
			}
		}
	}
}

// The converter's bf16 file gives the reference logits and losses on the
// golden window, like the Hub checkpoint.
func TestGGUFBF16MatchesGolden(t *testing.T) {
	if testing.Short() {
		t.Skip("1024-token forward pass")
	}
	needFile(t, sharedBF16GGUF)
	l, err := OpenModel(sharedBF16GGUF, WeightsAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	g := loadGolden(t)
	ids := g.ids(t)
	logits, err := l.Model.Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	V := l.Model.Config.VocabSize
	assertClose(t, "logits 0-31", logits[:32*V], g.floats(t, "logits_first32"), 1e-3)
	nll, err := l.Model.NLL(ids)
	if err != nil {
		t.Fatal(err)
	}
	want := g.floats(t, "nll")
	worst := 0.0
	for i, v := range want {
		worst = math.Max(worst, math.Abs(nll[i]-float64(v)))
	}
	if worst > 1e-4 {
		t.Errorf("per-token nll: max |diff| %.3g, tolerance 1e-4", worst)
	}
}

// llama-quantize's Q4_K_M computed on its packed blocks equals the same
// file dequantised whole to float32 first, and the tokenizer from its
// metadata encodes like tokenizer.json.
func TestGGUFQ4KMPackedEqualsDequantized(t *testing.T) {
	if testing.Short() {
		t.Skip("two forward passes")
	}
	l, err := OpenModel(q4kmGGUF, WeightsAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Format != "gguf" {
		t.Fatalf("format %q", l.Format)
	}
	_, c, ck, err := OpenGGUFModel(q4kmGGUF)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	// The view dequantises every quantised tensor to F32.
	if ti, _ := ck.Lookup("backbone.layers.0.mixer.in_proj.weight"); ti.DType != safetensors.F32 {
		t.Fatalf("dequantised view dtype %s", ti.DType)
	}
	dense, err := LoadModel(c, NewCheckpointWeights(ck, BuildInventory(c), WeightsFloat32))
	if err != nil {
		t.Fatal(err)
	}
	g := loadGolden(t)
	ids := g.ids(t)[:256]
	a, err := l.Model.Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	b, err := dense.Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	assertClose(t, "packed vs dequantised logits", a, b, 1e-4)
	hub, err := OpenModel("../models/nemotron-h-mini", WeightsAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	text := "The GGUF tokenizer <s> reads \"this\" exactly.\n\n = Valkyria = \n"
	if x, y := l.Tokenizer.Encode(text), hub.Tokenizer.Encode(text); !reflect.DeepEqual(x, y) {
		t.Errorf("GGUF tokenizer %v, tokenizer.json %v", x, y)
	}
}
