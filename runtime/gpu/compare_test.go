package gpu

import (
	"context"
	"math"
	"testing"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/runtime"
)

// TestGPUCompare compares llama.cpp's Q4_K_M file of the mini with the
// float model on eight WikiText-2 windows on the GPU (fp32 products) and
// with eval.Compare on the CPU: mean KL within 1e-3 relative, its 99th
// percentile and maximum within 1e-2, both perplexities within 1e-6
// relative, top-1 agreement within two positions.
func TestGPUCompare(t *testing.T) {
	l, g := setup(t)
	q, err := runtime.OpenModel("../testdata/nemotron-h-mini.Q4_K_M.gguf", runtime.WeightsAuto)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	gq, err := Upload(dev, q.Model, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer gq.Close()
	text, err := datasets.Load(datasets.WikiText2Test)
	if err != nil {
		t.Fatal(err)
	}
	ids := l.Tokenizer.Encode(eval.JoinRows(text.Body))
	const seq, windows = 1024, 8
	cpu, err := eval.Compare(q.Model, l.Model, ids, seq, windows, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := eval.CompareBatches(context.Background(), func(ws [][]int) ([][]eval.Position, error) { return Compare(gq, g, ws) }, 4, ids, seq, windows, nil)
	if err != nil {
		t.Fatal(err)
	}
	rel := func(a, b float64) float64 { return math.Abs(a-b) / math.Abs(b) }
	t.Logf("GPU: mean KL %.6g, ppl %.6f (base %.6f), top-1 %.5f; CPU: %.6g, %.6f (%.6f), %.5f",
		got.MeanKL, got.PPL, got.PPLBase, got.Top1Agreement, cpu.MeanKL, cpu.PPL, cpu.PPLBase, cpu.Top1Agreement)
	if r := rel(got.MeanKL, cpu.MeanKL); r > 1e-3 || math.IsNaN(r) {
		t.Errorf("mean KL %.6g on the GPU, %.6g on the CPU (%.2g relative), tolerance 1e-3", got.MeanKL, cpu.MeanKL, r)
	}
	if r := max(rel(got.KLP99, cpu.KLP99), rel(got.KLMax, cpu.KLMax)); r > 1e-2 || math.IsNaN(r) {
		t.Errorf("KL p99 %.6g, max %.6g on the GPU, %.6g, %.6g on the CPU (%.2g relative), tolerance 1e-2", got.KLP99, got.KLMax, cpu.KLP99, cpu.KLMax, r)
	}
	if r := max(rel(got.PPL, cpu.PPL), rel(got.PPLBase, cpu.PPLBase)); r > 1e-6 || math.IsNaN(r) {
		t.Errorf("ppl %.8f / base %.8f on the GPU, %.8f / %.8f on the CPU (%.2g relative), tolerance 1e-6", got.PPL, got.PPLBase, cpu.PPL, cpu.PPLBase, r)
	}
	if d := math.Abs(got.Top1Agreement-cpu.Top1Agreement) * float64(cpu.Positions); d > 2 {
		t.Errorf("top-1 agreement %.5f on the GPU, %.5f on the CPU (%.0f positions apart), tolerance 2", got.Top1Agreement, cpu.Top1Agreement, d)
	}
	if got.Positions != cpu.Positions {
		t.Errorf("%d positions on the GPU, %d on the CPU", got.Positions, cpu.Positions)
	}
}
