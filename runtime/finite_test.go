package runtime

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/runtime/safetensors"
)

// writeTensors writes one safetensors file of float32 values stored in the
// given dtypes.
func writeTensors(t *testing.T, path string, specs []safetensors.TensorSpec, values [][]float32) {
	t.Helper()
	w, err := safetensors.Create(path, specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range specs {
		raw := make([]byte, s.Bytes())
		if err := safetensors.FromFloat32(raw, values[i], s.DType); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteTensor(s.Name, raw); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// A NaN or an infinity in a float checkpoint is refused when the tensor is
// read, converted or mapped, naming the file, the tensor and where the
// first one is.
func TestNonFiniteWeightsRefusedAtLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	mat := make([]float32, 3*4)
	mat[1*4+2], mat[2*4+3] = float32(math.NaN()), float32(math.Inf(1))
	vec := []float32{1, 2, 3, float32(math.Inf(-1)), 5}
	big := make([]float32, 3<<20) // scanned in parallel parts: the first one still wins
	big[len(big)-7], big[2<<20+5] = float32(math.NaN()), float32(math.Inf(1))
	writeTensors(t, path, []safetensors.TensorSpec{
		{Name: "m.weight", DType: safetensors.BF16, Shape: []int64{3, 4}},
		{Name: "v", DType: safetensors.F32, Shape: []int64{5}},
		{Name: "h.weight", DType: safetensors.F16, Shape: []int64{3, 1 << 20}},
		{Name: "c.weight", DType: safetensors.BF16, Shape: []int64{2, 1, 2}},
	}, [][]float32{mat, vec, big, {0, 1, 2, float32(math.NaN())}})
	ck, err := OpenCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	want := map[string]string{
		"m.weight": `model.safetensors: tensor "m.weight" [3 4] holds a non-finite value: NaN at row 1, column 2 (the first one)`,
		"v":        `tensor "v" [5] holds a non-finite value: -Inf at index 3`,
		"h.weight": `tensor "h.weight" [3 1048576] holds a non-finite value: +Inf at row 2, column 5 (the first one)`,
		"c.weight": `tensor "c.weight" [2 1 2] holds a non-finite value: NaN at index [1 0 1]`,
	}
	check := func(how, name string, err error) {
		t.Helper()
		var nf *NonFiniteError
		if !errors.As(err, &nf) || !strings.Contains(err.Error(), want[name]) {
			t.Errorf("%s %s: got %v\nwant %s", how, name, err, want[name])
		}
	}
	for name := range want {
		_, err := ck.Float32(name)
		check("Float32", name, err)
	}
	mapped := &CheckpointWeights{Ck: ck, Mode: WeightsMapped}
	_, err = mapped.Linear("m.weight", 3, 4, "")
	check("mapped Linear", "m.weight", err)
	_, err = mapped.Linear("h.weight", 3, 1<<20, "")
	check("mapped Linear", "h.weight", err)
	_, err = mapped.Embedding("m.weight", 3, 4)
	check("mapped Embedding", "m.weight", err)
	f32 := &CheckpointWeights{Ck: ck, Mode: WeightsFloat32}
	_, err = f32.Linear("m.weight", 3, 4, "")
	check("f32 Linear", "m.weight", err)

	// A streamed piece names the position in the whole tensor.
	ti, _ := ck.Lookup("h.weight")
	piece := make([]float32, 8)
	piece[6] = float32(math.NaN())
	if err := CheckFinite(piece, ti, 1<<20); err == nil || !strings.Contains(err.Error(), "NaN at row 1, column 6") {
		t.Errorf("streamed piece: %v", err)
	}
}

// The mini model with one bf16 NaN poked into a shard is refused by
// OpenModel, mapped or converted, naming the shard, tensor and position.
func TestOpenModelRefusesNaNWeight(t *testing.T) {
	dir := t.TempDir()
	src := "../models/nemotron-h-mini"
	for _, n := range []string{"config.json", "tokenizer.json", IndexFile, "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const name = "backbone.layers.2.mixer.in_proj.weight"
	ck, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := ck.Lookup(name)
	ck.Close()
	f, err := os.OpenFile(ti.File, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var hdr [8]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		t.Fatal(err)
	}
	cols := ti.Shape[1]
	at := 8 + int64(binary.LittleEndian.Uint64(hdr[:])) + ti.Begin + 2*(5*cols+7) // row 5, column 7
	if _, err := f.WriteAt([]byte{0xc0, 0x7f}, at); err != nil {                  // bf16 quiet NaN
		t.Fatal(err)
	}
	f.Close()
	for _, mode := range []WeightMode{WeightsMapped, WeightsFloat32} {
		l, err := OpenModel(dir, mode)
		if err == nil {
			l.Close()
		}
		want := filepath.Base(ti.File) + `: tensor "` + name + `" [1544 256] holds a non-finite value: NaN at row 5, column 7`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("mode %d: got %v\nwant %s", mode, err, want)
		}
	}
}
