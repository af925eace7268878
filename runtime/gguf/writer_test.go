package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/hyquant/hyquant/kernels/ggml"
)

// What the writer writes, the reader reads back: every value type the
// writer makes, tensors at aligned offsets, data streamed in pieces that
// cross tensor boundaries.
func TestWriterRoundTrip(t *testing.T) {
	for _, align := range []int64{0, 64} {
		path := filepath.Join(t.TempDir(), "w.gguf")
		w, err := NewWriter(path, align)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range []KV{
			{"general.architecture", String("nemotron_h")}, {"a.u32", Uint32(7)}, {"a.u64", Uint64(1 << 40)},
			{"a.i32", Int32(-3)}, {"a.f32", Float32(1e-5)}, {"a.bool", Bool(true)},
			{"a.ints", Int32s([]int32{0, 1280, -1})}, {"a.strs", Strings([]string{"Ġ t", "", "ü"})},
		} {
			if err := w.AddKV(kv.Key, kv.Value); err != nil {
				t.Fatal(err)
			}
		}
		a := bytes.Repeat([]byte{7}, 34) // one q8_0 block: fp16 scale + 32 codes
		b := bytes.Repeat([]byte{5}, 4*3)
		if err := w.AddTensor("t.q8", []int64{32, 1}, ggml.Q8_0); err != nil {
			t.Fatal(err)
		}
		if err := w.AddTensor("t.f32", []int64{3}, ggml.F32); err != nil {
			t.Fatal(err)
		}
		all := append(append([]byte(nil), a...), b...)
		if err := w.WriteData(all[:20]); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteData(all[20:]); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]string{
			"general.architecture": `"nemotron_h"`, "a.u32": "7", "a.u64": "1099511627776", "a.i32": "-3",
			"a.f32": "9.999999747378752e-06", "a.bool": "true", "a.ints": "[0 1280 -1]", "a.strs": `["Ġ t" "" "ü"]`,
		} {
			if v, ok := f.Lookup(key); !ok || v.Display(8) != want {
				t.Errorf("%s = %s, want %s", key, v.Display(8), want)
			}
		}
		got, _, err := f.TensorData("t.q8")
		if err != nil || !bytes.Equal(got, a) {
			t.Errorf("t.q8 data %v %v", got, err)
		}
		got, ti, _ := f.TensorData("t.f32")
		if !bytes.Equal(got, b) || ti.Offset%f.Alignment != 0 {
			t.Errorf("t.f32 data %v at %d", got, ti.Offset)
		}
		want := align
		if want == 0 {
			want = DefaultAlignment
		}
		if f.Alignment != want {
			t.Errorf("alignment %d, want %d", f.Alignment, want)
		}
		f.Close()
		ents, _ := os.ReadDir(filepath.Dir(path))
		if len(ents) != 1 {
			t.Errorf("temporary files left: %v", ents)
		}
	}
}

func mustWriter(t *testing.T, path string, align int64) *Writer {
	t.Helper()
	w, err := NewWriter(path, align)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// A file whose tensors did not all get their data is not written.
func TestWriterIncompleteLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.gguf")
	w := mustWriter(t, path, 0)
	w.AddTensor("t", []int64{4}, ggml.F32)
	w.WriteData(make([]byte, 8))
	if err := w.Close(); err == nil {
		t.Fatal("Close accepted 8 of 16 bytes")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
	w = mustWriter(t, path, 0)
	w.AddTensor("t", []int64{4}, ggml.F32)
	if err := w.WriteData(make([]byte, 20)); err == nil {
		t.Error("20 bytes written into a 16-byte tensor")
	}
	w.Abort()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind after Abort: %v", ents)
	}
}

// Misuse is refused and the spent writer leaves nothing once aborted.
func TestWriterRefusals(t *testing.T) {
	dir := t.TempDir()
	w := mustWriter(t, filepath.Join(dir, "x.gguf"), 0)
	w.AddKV("k", Uint32(1))
	if err := w.AddKV("k", Uint32(2)); err == nil {
		t.Error("a duplicate key was accepted")
	}
	if err := w.AddTensor("bad", []int64{100}, ggml.Q4_K); err == nil {
		t.Error("a 100-wide q4_K row was declared")
	}
	w.Abort()
	if _, err := NewWriter(filepath.Join(dir, "y.gguf"), 48); err == nil {
		t.Error("alignment 48 was accepted")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}

// Rewriting llama-quantize's Q4_K_M file key for key and tensor for tensor
// gives back the file byte for byte: the writer lays a file out exactly as
// llama.cpp's own writer does.
func TestWriterReproducesLlamaCppFile(t *testing.T) {
	src := "../testdata/nemotron-h-mini.Q4_K_M.gguf"
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(src, want)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "copy.gguf")
	w := mustWriter(t, path, f.Alignment)
	for _, kv := range f.KV {
		if kv.Key == "general.alignment" {
			continue
		}
		if err := w.AddKV(kv.Key, kv.Value); err != nil {
			t.Fatal(err)
		}
	}
	for _, ti := range f.Tensors {
		if err := w.AddTensor(ti.Name, ti.Dims, ti.Type); err != nil {
			t.Fatal(err)
		}
	}
	for _, ti := range f.Tensors {
		data, _, _ := f.TensorData(ti.Name)
		if err := w.WriteData(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, want) {
		n := 0
		for n < len(got) && n < len(want) && got[n] == want[n] {
			n++
		}
		t.Fatalf("rewritten file differs from llama.cpp's at byte %d (sizes %d and %d)", n, len(got), len(want))
	}
}
