package ggml

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"
)

// TestLegacyImatrixFromGGUF: imatrix.go's reader, given the raw
// .in_sum2/.counts tensors of the fixture's two weights, gives the
// per-column weights that the generator computed (and that the
// llama-quantize fixtures were made with) bit for bit.
func TestLegacyImatrixFromGGUF(t *testing.T) {
	sums := readF32File(t, filepath.Join("testdata", "quant", "legacy.in_sum2.f32"))
	counts := readF32File(t, filepath.Join("testdata", "quant", "legacy.counts.f32"))
	_, want := legacyFixtureInput(t)
	if len(counts) != len(legacyFixtureTensors) || len(sums) != len(want) {
		t.Fatalf("fixture: %d sums, %d counts", len(sums), len(counts))
	}
	tensors := map[string][]float32{}
	var names []string
	for i, ft := range legacyFixtureTensors {
		tensors[ft.name+".in_sum2"] = sums[:ft.cols]
		tensors[ft.name+".counts"] = counts[i : i+1]
		names = append(names, ft.name+".in_sum2", ft.name+".counts")
		sums = sums[ft.cols:]
	}
	lookup := func(name string) ([]int64, Type, []byte, bool) {
		v, ok := tensors[name]
		if !ok {
			return nil, 0, nil, false
		}
		b := make([]byte, 4*len(v))
		for i, f := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
		}
		return []int64{int64(len(v))}, F32, b, true
	}
	got, err := ImatrixFromGGUF(lookup, names)
	if err != nil {
		t.Fatal(err)
	}
	for _, ft := range legacyFixtureTensors {
		g := got[ft.name]
		if len(g) != ft.cols {
			t.Fatalf("%s: %d weights, want %d", ft.name, len(g), ft.cols)
		}
		for i := range g {
			if math.Float32bits(g[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s column %d: %g, generator %g", ft.name, i, g[i], want[i])
			}
		}
		want = want[ft.cols:]
	}
}
