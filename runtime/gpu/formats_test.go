package gpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/kernels/cuda"
	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/quant/calib"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// randomQMatrix is a valid QMatrix with random codes, scales and zero
// points (every code pattern occurs, so every bit position is read).
func randomQMatrix(rng *rand.Rand, rows, cols, bits, group int, perTensor, asym bool) *kernels.QMatrix {
	q := &kernels.QMatrix{Rows: rows, Cols: cols, Bits: bits, GroupSize: group, PerTensor: perTensor}
	q.Codes = make([]byte, rows*q.RowBytes())
	for i := range q.Codes {
		q.Codes[i] = byte(rng.Uint32())
	}
	if bits*cols%8 != 0 { // padding bits of each row stay clear, as the packer leaves them
		for r := 0; r < rows; r++ {
			q.Codes[(r+1)*q.RowBytes()-1] &= byte(1<<(bits*cols%8) - 1)
		}
	}
	q.Scales = make([]float32, q.Groups()*map[bool]int{true: 1, false: rows}[perTensor])
	for i := range q.Scales {
		q.Scales[i] = float32(rng.NormFloat64() * 0.01)
	}
	if asym {
		q.Zeros = make([]uint8, len(q.Scales))
		for i := range q.Zeros {
			q.Zeros[i] = uint8(rng.IntN(1 << bits))
		}
	}
	return q
}

// ggmlLinear quantises a random rows×cols matrix into t with hyquant's
// llama-quantize rounding, optionally read through a row permutation.
func ggmlLinear(t *testing.T, rng *rand.Rand, typ ggml.Type, rows, cols int, permute bool) kernels.Linear {
	t.Helper()
	w := make([]float32, rows*cols)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 0.02)
	}
	rb, err := typ.RowBytes(int64(cols))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, int(rb)*rows)
	if err := typ.Quantize(data, w, rows, cols, nil); err != nil {
		t.Fatal(err)
	}
	g, err := ggml.NewRows(data, typ, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	if permute {
		perm := make([]int32, rows)
		for i, p := range rng.Perm(rows) {
			perm[i] = int32(p)
		}
		if err := g.Permute(perm); err != nil {
			t.Fatal(err)
		}
	}
	l, err := kernels.NewDecodedLinear(g, rows, cols, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestGPUDequantMatchesHost decodes every packed format the device holds
// into fp32 and bf16 on the GPU and compares value by value with the Go
// decoders (HostWeights): fp32 bit for bit, bf16 as the fp32 value rounded
// to nearest even (safetensors.BF16Bits).
func TestGPUDequantMatchesHost(t *testing.T) {
	setup(t)
	rng := rand.New(rand.NewPCG(14, 1))
	cases := []struct {
		name  string
		l     kernels.Linear
		store storage
	}{}
	for _, c := range []struct {
		bits, group     int
		perTensor, asym bool
		rows, cols      int
	}{{4, 128, false, false, 48, 512}, {4, 64, false, true, 33, 256}, {8, 256, false, false, 17, 512}, {8, 0, true, false, 9, 96},
		{3, 64, false, true, 21, 320}, {2, 32, false, false, 13, 160}, {5, 32, false, true, 7, 96}, {6, 0, true, true, 5, 100}} {
		q := randomQMatrix(rng, c.rows, c.cols, c.bits, c.group, c.perTensor, c.asym)
		if err := q.Validate(); err != nil {
			t.Fatal(err)
		}
		ql, err := kernels.NewQLinear(q, nil)
		if err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct {
			name  string
			l     kernels.Linear
			store storage
		}{fmt.Sprintf("qmatrix w%d g%d pt=%v asym=%v", c.bits, c.group, c.perTensor, c.asym), ql, storeQMatrix})
	}
	for typ := range ggmlKernels {
		for _, perm := range []bool{false, true} {
			cases = append(cases, struct {
				name  string
				l     kernels.Linear
				store storage
			}{fmt.Sprintf("%s permuted=%v", typ, perm), ggmlLinear(t, rng, typ, 24, 512, perm), storeGGML})
		}
	}
	for _, c := range cases {
		want, _ := HostWeights(c.l)
		for _, out := range []storage{storeF32, storeBF16} {
			got, store, err := decodeOnDevice(c.l, out)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if store != c.store {
				t.Fatalf("%s: held as storage %d on the device, want %d", c.name, store, c.store)
			}
			bad := 0
			for i, w := range want {
				exp := w
				if out == storeBF16 {
					exp = math.Float32frombits(uint32(safetensors.BF16Bits(w)) << 16)
				}
				if math.Float32bits(got[i]) != math.Float32bits(exp) {
					if bad++; bad <= 3 {
						t.Errorf("%s → %s: value %d is %v, host %v", c.name, out.suffix()[1:], i, got[i], exp)
					}
				}
			}
			if bad == 0 {
				t.Logf("%s → %s: %d values identical", c.name, out.suffix()[1:], len(want))
			}
		}
	}
}

// decodeOnDevice uploads l alone, decodes it into out (fp32 or bf16) on
// the device and returns the values as fp32, with the storage it had.
func decodeOnDevice(l kernels.Linear, out storage) ([]float32, storage, error) {
	g := &Model{Dev: dev}
	defer g.Close()
	var vals []float32
	var store storage
	err := dev.Run(func(s *cuda.Stream) error {
		u := &uploader{g: g, s: s}
		r, err := u.linear(l)
		if err != nil {
			return err
		}
		store = r.store
		n := r.out * r.in
		buf, err := s.Alloc(4 * n)
		if err != nil {
			return err
		}
		defer s.Free(buf)
		if err := decode(s, &r, out, buf.Ptr); err != nil {
			return err
		}
		vals = make([]float32, n)
		if out == storeBF16 { // widen on the device (exact) to read the values back as fp32
			wide, err := s.Alloc(4 * n)
			if err != nil {
				return err
			}
			defer s.Free(wide)
			if err := convert(s, "bf16_to_f32", wide.Ptr, buf.Ptr, n); err != nil {
				return err
			}
			buf = wide
		}
		return s.CopyFloatsOut(vals, buf, 0)
	})
	return vals, store, err
}

// quantizedPlan puts every packed format the device decodes, and one it
// does not (Q3_K, dequantised on the host), on the mini's forward path.
const quantizedPlan = `name: gpu-formats
categories:
  ssm_in_proj: {method: rtn, bits: 3, granularity: "group:64", symmetric: false}
  ssm_out_proj: {method: ggml, type: q4_K}
  mlp_up: {method: ggml, type: q5_K}
  mlp_down: {method: ggml, type: q6_K}
  attn_q: {method: rtn, bits: 8, granularity: tensor}
  attn_k: {method: rtn, bits: 4, granularity: "group:128"}
  attn_v: {method: ggml, type: q8_0}
  attn_o: {method: ggml, type: q3_K}
  lm_head: {method: ggml, type: q6_K}
`

// TestGPUParityQuantized runs the golden window through the mini quantised
// under quantizedPlan on the GPU (fp32 products, packed weights decoded on
// the device) and on the CPU runtime: the same tolerances as the float
// model (logits 1e-3, per-token nll 1e-4).
func TestGPUParityQuantized(t *testing.T) {
	l, _ := setup(t)
	r, err := plan.ResolveYAML([]byte(quantizedPlan), "gpu-formats.yaml", l.Files)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := calib.Apply(l.Files.Config, l.Weights, r, calib.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	compareOnGolden(t, applied.Model, Options{})
}

// TestGPUParityLlamaGGUF runs llama.cpp's own Q4_K_M file of the mini
// (runtime/testdata, written by llama-quantize) on the GPU against the CPU.
func TestGPUParityLlamaGGUF(t *testing.T) {
	setup(t)
	m, err := runtime.OpenModel("../testdata/nemotron-h-mini.Q4_K_M.gguf", runtime.WeightsAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	compareOnGolden(t, m.Model, Options{})
}

// TestGPUParityMappedBF16 holds the mini's bf16 weights as bf16 on the
// device (widened for fp32 products) against the CPU on the same weights.
func TestGPUParityMappedBF16(t *testing.T) {
	setup(t)
	m, err := runtime.OpenModel(miniDir, runtime.WeightsMapped)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	compareOnGolden(t, m.Model, Options{})
}

// compareOnGolden uploads m and compares the golden window's logits and
// losses with the CPU's.
func compareOnGolden(t *testing.T, m *runtime.Model, opts Options) {
	t.Helper()
	g, err := Upload(dev, m, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	t.Logf("on the device: %s (%.2f MiB)", g.Storage(), float64(g.WeightBytes)/(1<<20))
	ids := goldenIDs(t)
	cpuLogits, err := m.Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	checkOutputs(t, m, g, ids, cpuLogits)
}

// TestGPUBF16 runs 16 WikiText-2 windows with bf16 products: the
// perplexity within 0.1% of the CPU's (issue 14's bf16 goal; the full test
// split is the benchmark in tools/gpu/run.sh), for the float model and the
// Q4_K_M file.
func TestGPUBF16(t *testing.T) {
	l, _ := setup(t)
	q, err := runtime.OpenModel("../testdata/nemotron-h-mini.Q4_K_M.gguf", runtime.WeightsAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	text, err := datasets.Load(datasets.WikiText2Test)
	if err != nil {
		t.Fatal(err)
	}
	ids := l.Tokenizer.Encode(eval.JoinRows(text.Body))
	windows := eval.Windows(ids, 1024, 16)
	for _, c := range []struct {
		name string
		m    *runtime.Model
	}{{"float", l.Model}, {"Q4_K_M", q.Model}} {
		g, err := Upload(dev, c.m, Options{Math: MathBF16})
		if err != nil {
			t.Fatal(err)
		}
		got, err := g.NLL(windows)
		g.Close()
		if err != nil {
			t.Fatal(err)
		}
		var gpuSum, cpuSum float64
		for i, w := range windows {
			want, err := c.m.NLL(w)
			if err != nil {
				t.Fatal(err)
			}
			gpuSum += runtime.MeanNLL(got[i])
			cpuSum += runtime.MeanNLL(want)
		}
		n := float64(len(windows))
		rel := math.Exp(gpuSum/n-cpuSum/n) - 1
		if math.Abs(rel) > 1e-3 || math.IsNaN(rel) {
			t.Errorf("%s, bf16: ppl %.4f against the CPU's %.4f (%+.2e relative), tolerance 1e-3", c.name, math.Exp(gpuSum/n), math.Exp(cpuSum/n), rel)
		} else {
			t.Logf("%s, bf16: ppl %.4f against the CPU's %.4f (%+.2e relative)", c.name, math.Exp(gpuSum/n), math.Exp(cpuSum/n), rel)
		}
	}
}
