package runtime

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/runtime/gguf"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// GGUFTransform is how llama.cpp's converter changed a tensor's values on
// the way into a nemotron_h GGUF (reshapes aside, which change no byte).
type GGUFTransform int

const (
	// AsStored: the values are the Hub tensor's.
	AsStored GGUFTransform = iota
	// NegExp: the file holds A = -exp(A_log); A_log = log(-A).
	NegExp
	// RopePermuted: rows are permuted within each head by llama's rope
	// permutation (for q and k, although nemotron_h has no rope).
	RopePermuted
)

// GGUFTensorName says where a Hub parameter lives in a nemotron_h GGUF.
type GGUFTensorName struct {
	Hub, GGUF string
	Transform GGUFTransform
	Heads     int // RopePermuted: heads whose rows are permuted
}

// GGUFNames maps every parameter of a config's inventory to its nemotron_h
// GGUF tensor, in inventory order.
func GGUFNames(c *Config) []GGUFTensorName {
	inv := BuildInventory(c)
	out := make([]GGUFTensorName, 0, len(inv.Params))
	for _, p := range inv.Params {
		out = append(out, ggufName(c, p.Name))
	}
	return out
}

var ggufMixerNames = map[string]string{
	"in_proj": "ssm_in", "conv1d": "ssm_conv1d", "out_proj": "ssm_out", "norm": "ssm_norm",
	"up_proj": "ffn_up", "down_proj": "ffn_down",
	"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
}

func ggufName(c *Config, hub string) GGUFTensorName {
	switch hub {
	case "backbone.embeddings.weight":
		return GGUFTensorName{Hub: hub, GGUF: "token_embd.weight"}
	case "backbone.norm_f.weight":
		return GGUFTensorName{Hub: hub, GGUF: "output_norm.weight"}
	case "lm_head.weight":
		return GGUFTensorName{Hub: hub, GGUF: "output.weight"}
	}
	var layer int
	var rest string
	if _, err := fmt.Sscanf(hub, "backbone.layers.%d.", &layer); err != nil {
		panic("runtime: unexpected parameter name " + hub)
	}
	rest = strings.TrimPrefix(hub, fmt.Sprintf("backbone.layers.%d.", layer))
	blk := fmt.Sprintf("blk.%d.", layer)
	n := GGUFTensorName{Hub: hub}
	switch rest {
	case "norm.weight":
		n.GGUF = blk + "attn_norm.weight"
	case "mixer.dt_bias":
		n.GGUF = blk + "ssm_dt.bias"
	case "mixer.A_log":
		n.GGUF, n.Transform = blk+"ssm_a", NegExp
	case "mixer.D":
		n.GGUF = blk + "ssm_d"
	default:
		mod, suffix, _ := strings.Cut(strings.TrimPrefix(rest, "mixer."), ".")
		n.GGUF = blk + ggufMixerNames[mod] + "." + suffix
		switch mod {
		case "q_proj":
			n.Transform, n.Heads = RopePermuted, c.NumAttentionHeads
		case "k_proj":
			n.Transform, n.Heads = RopePermuted, c.NumKeyValueHeads
		}
	}
	return n
}

// ropeRow maps a row of the Hub tensor to the row that holds it in the
// GGUF: within each head of d rows, the converter's permutation puts row
// j·d/2 + i at 2i + j (j < 2, i < d/2).
func ropeRow(r, rows, heads int) int {
	d := rows / heads
	h, k := r/d, r%d
	j, i := k/(d/2), k%(d/2)
	return h*d + 2*i + j
}

// openGGUFCheckpoint presents a nemotron_h GGUF as a Checkpoint under Hub
// names and shapes: float tensors stored as they are, transformed or
// quantised ones materialised (as float32, or in their float type) only
// when read.
func openGGUFCheckpoint(f *gguf.File, c *Config) (*Checkpoint, error) {
	ck := &Checkpoint{Dir: f.Path, byName: map[string]tensorRef{}, gguf: f, ggufNames: map[string]GGUFTensorName{}}
	inv := BuildInventory(c)
	used := map[string]bool{}
	var problems []string
	for _, n := range GGUFNames(c) {
		p, _ := inv.Lookup(n.Hub)
		t, ok := f.Tensor(n.GGUF)
		if !ok {
			problems = append(problems, fmt.Sprintf("no tensor %q (the Hub's %s %v)", n.GGUF, n.Hub, p.Shape))
			continue
		}
		used[n.GGUF] = true
		if err := checkGGUFShape(t, p, n); err != nil {
			problems = append(problems, err.Error())
			continue
		}
		ck.ggufNames[n.Hub] = n
		ck.byName[n.Hub] = tensorRef{mem: newGGUFTensor(f, t, p, n)}
	}
	for _, t := range f.Tensors {
		if !used[t.Name] {
			problems = append(problems, fmt.Sprintf("tensor %q (%s %v) is not a parameter of this config", t.Name, t.Type, t.Dims))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, &CheckpointError{File: f.Path, Msg: fmt.Sprintf("does not match its nemotron_h metadata (%d problems):\n  %s", len(problems), strings.Join(problems, "\n  "))}
	}
	return ck, nil
}

// checkGGUFShape checks a GGUF tensor against the Hub parameter: same
// element count, and for matrices the same row length (ggml's Dims[0]).
func checkGGUFShape(t *gguf.TensorInfo, p Param, n GGUFTensorName) error {
	if t.NumElements() != p.NumElements() || (len(p.Shape) == 2 && t.Dims[0] != int64(p.Shape[1])) {
		return fmt.Errorf("tensor %q has ggml dims %v; the Hub's %s is %v", t.Name, t.Dims, n.Hub, p.Shape)
	}
	if !t.Type.CanDequantize() {
		return fmt.Errorf("tensor %q is %s, a type hyquant cannot compute with", t.Name, t.Type)
	}
	if n.Transform == RopePermuted && (p.Shape[0]%n.Heads != 0 || (p.Shape[0]/n.Heads)%2 != 0) {
		return fmt.Errorf("tensor %q: %d rows are not %d heads of an even size", t.Name, p.Shape[0], n.Heads)
	}
	return nil
}

// GGMLFloatDType is the safetensors dtype of a ggml float type (F32, F16,
// BF16); ok is false for the block types.
func GGMLFloatDType(t ggml.Type) (safetensors.DType, bool) {
	switch t {
	case ggml.F32:
		return safetensors.F32, true
	case ggml.F16:
		return safetensors.F16, true
	case ggml.BF16:
		return safetensors.BF16, true
	}
	return "", false
}

// FloatGGMLType is the ggml type of a safetensors float dtype.
func FloatGGMLType(d safetensors.DType) (ggml.Type, bool) {
	for _, t := range []ggml.Type{ggml.F32, ggml.F16, ggml.BF16} {
		if fd, _ := GGMLFloatDType(t); fd == d {
			return t, true
		}
	}
	return 0, false
}

func newGGUFTensor(f *gguf.File, t *gguf.TensorInfo, p Param, n GGUFTensorName) *memTensor {
	shape := make([]int64, len(p.Shape))
	for i, d := range p.Shape {
		shape[i] = int64(d)
	}
	dt, isFloat := GGMLFloatDType(t.Type)
	if !isFloat || n.Transform == NegExp {
		dt = safetensors.F32
	}
	size := p.NumElements() * int64(dt.Size())
	m := &memTensor{info: safetensors.TensorInfo{Name: n.Hub, DType: dt, Shape: shape, End: size}, file: f.Path}
	m.load = func() ([]byte, error) {
		raw, _, err := f.TensorData(t.Name)
		if err != nil {
			return nil, err
		}
		if isFloat && n.Transform == AsStored {
			return raw, nil // mapped, no copy
		}
		var b []byte
		if isFloat && n.Transform != NegExp {
			b = append([]byte(nil), raw...)
		} else {
			vals := make([]float32, t.NumElements())
			if err := t.Type.Dequantize(vals, raw); err != nil {
				return nil, fmt.Errorf("%s: tensor %q: %w", f.Path, t.Name, err)
			}
			b = float32Bytes(vals)
		}
		switch n.Transform {
		case NegExp:
			err = negExpToLog(b, f.Path, t.Name)
		case RopePermuted:
			b = permuteRopeRows(b, p.Shape[0], int(p.NumElements()/int64(p.Shape[0]))*dt.Size(), n.Heads, false)
		}
		return b, err
	}
	return m
}

func float32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// negExpToLog turns A = -exp(A_log) back into A_log, in place. The
// converter computes A as float32(-exp(float64(A_log))); of the values near
// log(-A), one that maps back to A exactly is taken, a bf16 one first (so
// a bf16 model's A_log comes back bit for bit; any such value gives the
// runtime the same A), else the float32 nearest log(-A).
func negExpToLog(b []byte, file, name string) error {
	for i := 0; i < len(b); i += 4 {
		a := math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))
		if !(a < 0) || math.IsInf(float64(a), 0) {
			return fmt.Errorf("%s: tensor %q: A = %g at index %d; A = -exp(A_log) must be negative and finite", file, name, a, i/4)
		}
		binary.LittleEndian.PutUint32(b[i:], math.Float32bits(recoverALog(a)))
	}
	return nil
}

func recoverALog(a float32) float32 {
	y := math.Log(-float64(a))
	maps := func(c float32) bool { return float32(-math.Exp(float64(c))) == a }
	c := safetensors.RoundTo(float32(y), safetensors.BF16)
	bits := math.Float32bits(c)
	for _, d := range []int32{0, 1 << 16, -1 << 16} {
		if x := math.Float32frombits(uint32(int32(bits) + d)); maps(x) {
			return x
		}
	}
	c = float32(y)
	for _, x := range []float32{c, math.Nextafter32(c, float32(math.Inf(1))), math.Nextafter32(c, float32(math.Inf(-1)))} {
		if maps(x) {
			return x
		}
	}
	return c
}

// permuteRopeRows moves the rows of a rows×rowBytes tensor between the
// Hub's order and llama's rope permutation (stored row ropeRow(r) holds
// Hub row r): toGGUF applies the permutation, otherwise it is undone.
func permuteRopeRows(b []byte, rows, rowBytes, heads int, toGGUF bool) []byte {
	out := make([]byte, len(b))
	for r := 0; r < rows; r++ {
		dst, src := r*rowBytes, ropeRow(r, rows, heads)*rowBytes // Hub row, stored row
		if toGGUF {
			dst, src = src, dst
		}
		copy(out[dst:dst+rowBytes], b[src:src+rowBytes])
	}
	return out
}
