package runtime

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hyquant/hyquant/runtime/gguf"
)

// exportMini exports the mini, from the embedded (mapped) checkpoint or,
// streamed, from its directory read with pread as the 8B would be.
func exportMini(t *testing.T, streamed bool) string {
	t.Helper()
	ref := ""
	if streamed {
		ref = "../models/nemotron-h-mini"
	}
	mf, err := ResolveModel(ref)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := mf.OpenCheckpoint()
	if streamed {
		ck, err = OpenCheckpointStream(mf.Dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	path := filepath.Join(t.TempDir(), "mini.bf16.gguf")
	sum, err := ExportGGUF(path, mf, ck, GGUFExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tensors != 121 || sum.TensorBytes != 30539616 || sum.FileType != 32 {
		t.Errorf("export summary %+v", sum)
	}
	return path
}

// The bf16 export of the mini holds, tensor for tensor, the bytes llama.cpp's
// converter wrote (names, ggml types, dims and data), and the same
// metadata but for the converter's naming heuristics.
func TestExportGGUFEqualsConverter(t *testing.T) {
	needFile(t, sharedBF16GGUF)
	ours, err := gguf.Open(exportMini(t, false))
	if err != nil {
		t.Fatal(err)
	}
	defer ours.Close()
	theirs, err := gguf.Open(sharedBF16GGUF)
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	if len(ours.Tensors) != len(theirs.Tensors) {
		t.Fatalf("%d tensors, the converter wrote %d", len(ours.Tensors), len(theirs.Tensors))
	}
	for _, tt := range theirs.Tensors {
		ot, ok := ours.Tensor(tt.Name)
		if !ok {
			t.Errorf("no tensor %s", tt.Name)
			continue
		}
		if ot.Type != tt.Type || !reflect.DeepEqual(ot.Dims, tt.Dims) {
			t.Errorf("%s: %s %v, converter %s %v", tt.Name, ot.Type, ot.Dims, tt.Type, tt.Dims)
			continue
		}
		a, _, _ := ours.TensorData(tt.Name)
		b, _, _ := theirs.TensorData(tt.Name)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: data differs from the converter's", tt.Name)
		}
	}
	skip := map[string]bool{"general.name": true, "general.basename": true, "general.size_label": true, "nemotron_h.context_length": true}
	for _, kv := range theirs.KV {
		if skip[kv.Key] {
			continue
		}
		v, ok := ours.Lookup(kv.Key)
		if !ok {
			t.Errorf("key %s missing", kv.Key)
			continue
		}
		if v.TypeName() != kv.Value.TypeName() || v.Display(1<<20) != kv.Value.Display(1<<20) {
			t.Errorf("key %s = %s %.80s, converter %s %.80s", kv.Key, v.TypeName(), v.Display(8), kv.Value.TypeName(), kv.Value.Display(8))
		}
	}
}

// Without shared/: the export, streamed from the checkpoint directory, read
// back through the GGUF reader is the Hub checkpoint again, tensor for
// tensor.
func TestExportGGUFReadsBackAsHub(t *testing.T) {
	_, c, gk, err := OpenGGUFModel(exportMini(t, true))
	if err != nil {
		t.Fatal(err)
	}
	defer gk.Close()
	hk, err := OpenCheckpoint("../models/nemotron-h-mini")
	if err != nil {
		t.Fatal(err)
	}
	defer hk.Close()
	for _, p := range BuildInventory(c).Params {
		hv, _ := hk.Float32(p.Name)
		gv, err := gk.Float32(p.Name)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(hv, gv) {
			t.Errorf("%s: read back differs from the Hub checkpoint", p.Name)
		}
	}
}
