package runtime

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/runtime/gguf"
)

// ggufEdit describes a change to llama-quantize's Q4_K_M file.
type ggufEdit struct {
	kv     func(key string, v gguf.Value) (gguf.Value, bool) // replace or drop (false) a key
	extra  []gguf.KV
	tensor func(t gguf.TensorInfo, data []byte) (gguf.TensorInfo, []byte, bool) // replace or drop
	add    []gguf.TensorInfo                                                    // extra tensors (zero data)
}

// editedGGUF writes the Q4_K_M fixture with an edit applied.
func editedGGUF(t *testing.T, e ggufEdit) string {
	t.Helper()
	src, err := gguf.Open(q4kmGGUF)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "edited.gguf")
	w, err := gguf.NewWriter(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range src.KV {
		v, keep := kv.Value, true
		if e.kv != nil {
			v, keep = e.kv(kv.Key, v)
		}
		if keep {
			w.AddKV(kv.Key, v)
		}
	}
	for _, kv := range e.extra {
		w.AddKV(kv.Key, kv.Value)
	}
	var datas [][]byte
	for _, ti := range src.Tensors {
		data, _, _ := src.TensorData(ti.Name)
		keep := true
		if e.tensor != nil {
			ti, data, keep = e.tensor(ti, data)
		}
		if keep {
			if err := w.AddTensor(ti.Name, ti.Dims, ti.Type); err != nil {
				t.Fatal(err)
			}
			datas = append(datas, data)
		}
	}
	for _, ti := range e.add {
		if err := w.AddTensor(ti.Name, ti.Dims, ti.Type); err != nil {
			t.Fatal(err)
		}
		rb, _ := ti.Type.RowBytes(ti.Dims[0])
		n := rb
		for _, d := range ti.Dims[1:] {
			n *= d
		}
		datas = append(datas, make([]byte, n))
	}
	for _, d := range datas {
		if err := w.WriteData(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func setKey(key string, v gguf.Value) func(string, gguf.Value) (gguf.Value, bool) {
	return func(k string, old gguf.Value) (gguf.Value, bool) {
		if k == key {
			return v, true
		}
		return old, true
	}
}

func dropKey(key string) func(string, gguf.Value) (gguf.Value, bool) {
	return func(k string, old gguf.Value) (gguf.Value, bool) { return old, k != key }
}

func perLayer(ff bool, edit func([]int32)) func(string, gguf.Value) (gguf.Value, bool) {
	key := "nemotron_h.attention.head_count_kv"
	if ff {
		key = "nemotron_h.feed_forward_length"
	}
	return func(k string, old gguf.Value) (gguf.Value, bool) {
		if k != key {
			return old, true
		}
		xs, _ := old.Ints()
		v := make([]int32, len(xs))
		for i, x := range xs {
			v[i] = int32(x)
		}
		edit(v)
		return gguf.Int32s(v), true
	}
}

// Every way a nemotron_h GGUF can be wrong is an error naming the file and
// the key or tensor, raised when the model is opened.
func TestGGUFModelErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		edit ggufEdit
		want []string
	}{
		{"moe architecture", ggufEdit{kv: setKey("general.architecture", gguf.String("nemotron_h_moe"))}, []string{"general.architecture", "mixture-of-experts", "AutoConfig"}},
		{"other architecture", ggufEdit{kv: setKey("general.architecture", gguf.String("llama"))}, []string{`"llama" is not a NemotronH model`}},
		{"no architecture", ggufEdit{kv: dropKey("general.architecture")}, []string{"general.architecture", "missing"}},
		{"no block count", ggufEdit{kv: dropKey("nemotron_h.block_count")}, []string{"nemotron_h.block_count", "missing"}},
		{"block count a string", ggufEdit{kv: setKey("nemotron_h.block_count", gguf.String("20"))}, []string{"nemotron_h.block_count", "positive integer"}},
		{"unchanged file opens", ggufEdit{kv: perLayer(true, func(v []int32) {})}, nil},
		{"short per-layer array", ggufEdit{kv: setKey("nemotron_h.feed_forward_length", gguf.Int32s(make([]int32, 19)))}, []string{"feed_forward_length", "has 19 entries, block_count is 20"}},
		{"mlp and attention in one layer", ggufEdit{kv: perLayer(true, func(v []int32) { v[5] = 1280 })}, []string{"layer 5 has both"}},
		{"two MLP widths", ggufEdit{kv: perLayer(true, func(v []int32) { v[3] = 640 })}, []string{"feed_forward_length", "layer 3 has width 640"}},
		{"two KV head counts", ggufEdit{kv: perLayer(false, func(v []int32) { v[14] = 2 })}, []string{"head_count_kv", "layer 14 has 2 KV heads"}},
		{"negative width", ggufEdit{kv: perLayer(true, func(v []int32) { v[1] = -5 })}, []string{"entry 1 is negative"}},
		{"inner size", ggufEdit{kv: setKey("nemotron_h.ssm.inner_size", gguf.Uint32(500))}, []string{"ssm.inner_size", "500"}},
		{"eps an int", ggufEdit{kv: setKey("nemotron_h.attention.layer_norm_rms_epsilon", gguf.Uint32(1))}, []string{"layer_norm_rms_epsilon", "must be a float"}},
		{"heads do not divide", ggufEdit{kv: setKey("nemotron_h.attention.head_count", gguf.Uint32(3))}, []string{`"blk.5.attn_q.weight" has ggml dims [256 256]; the Hub's backbone.layers.5.mixer.q_proj.weight is [192 256]`}},
		{"missing tensor", ggufEdit{tensor: func(ti gguf.TensorInfo, d []byte) (gguf.TensorInfo, []byte, bool) {
			return ti, d, ti.Name != "blk.3.ffn_up.weight"
		}}, []string{`no tensor "blk.3.ffn_up.weight"`, "backbone.layers.3.mixer.up_proj.weight"}},
		{"extra tensor", ggufEdit{add: []gguf.TensorInfo{{Name: "blk.3.ffn_gate.weight", Dims: []int64{256, 1280}, Type: ggml.F16}}}, []string{`"blk.3.ffn_gate.weight"`, "not a parameter of this config"}},
		{"wrong dims", ggufEdit{tensor: func(ti gguf.TensorInfo, d []byte) (gguf.TensorInfo, []byte, bool) {
			if ti.Name == "blk.5.attn_v.weight" {
				ti.Dims, ti.Type = []int64{64, 256}, ggml.F32
				d = make([]byte, 64*256*4)
			}
			return ti, d, true
		}}, []string{`"blk.5.attn_v.weight" has ggml dims [64 256]`}},
		{"type hyquant cannot compute", ggufEdit{tensor: func(ti gguf.TensorInfo, d []byte) (gguf.TensorInfo, []byte, bool) {
			if ti.Name == "blk.0.ssm_d" {
				ti.Dims, ti.Type = []int64{8, 1}, ggml.I8
				d = make([]byte, 8)
			}
			return ti, d, true
		}}, []string{`"blk.0.ssm_d" is i8`}},
		{"positive A", ggufEdit{tensor: func(ti gguf.TensorInfo, d []byte) (gguf.TensorInfo, []byte, bool) {
			if ti.Name == "blk.2.ssm_a" {
				d = make([]byte, len(d))
				for i := 0; i < len(d); i += 4 {
					binary.LittleEndian.PutUint32(d[i:], math.Float32bits(0.5))
				}
			}
			return ti, d, true
		}}, []string{`"blk.2.ssm_a"`, "must be negative"}},
		{"no tokenizer model", ggufEdit{kv: dropKey("tokenizer.ggml.model")}, []string{"tokenizer.ggml.model", "missing"}},
		{"unknown pre-tokenizer", ggufEdit{kv: setKey("tokenizer.ggml.pre", gguf.String("qwen2"))}, []string{"tokenizer.ggml.pre", `"qwen2"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := editedGGUF(t, c.edit)
			l, err := OpenModel(path, WeightsAuto)
			if c.want == nil {
				if err != nil {
					t.Fatalf("unchanged file: %v", err)
				}
				l.Close()
				return
			}
			if err == nil {
				l.Close()
				t.Fatal("opened without error")
			}
			for _, w := range append(c.want, path) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
