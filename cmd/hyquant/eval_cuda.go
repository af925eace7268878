package main

import (
	"fmt"
	"math"
	"time"

	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/kernels/cuda"
	hqruntime "github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/gpu"
)

// cudaEval is what eval --device cuda reports beyond the perplexity.
type cudaEval struct {
	device        string
	uploadSeconds float64
	weightBytes   int64
	memoryUsed    int64 // device memory in use after the last batch
	storage       string
}

// cudaBatchRows is how many tokens go through the GPU at once: windows are
// batched up to this many rows (at least one window).
const cudaBatchRows = 32768

// perplexityCUDA is eval.Perplexity on the GPU: the weights are uploaded
// once (gpu.Upload says how each is held), then windows run in batches,
// each window's mean loss taken on the host in the CPU's order.
func perplexityCUDA(dev *cuda.Device, m *hqruntime.Model, opts gpu.Options, ids []int, seqLen, maxWindows int, progress eval.Progress) (eval.Result, cudaEval, error) {
	info := cudaEval{device: dev.String()}
	windows := eval.Windows(ids, seqLen, maxWindows)
	if len(windows) == 0 {
		return eval.Result{}, info, fmt.Errorf("the text has %d tokens, fewer than one window of %d", len(ids), seqLen)
	}
	t0 := time.Now()
	g, err := gpu.Upload(dev, m, opts)
	if err != nil {
		return eval.Result{}, info, fmt.Errorf("--device cuda: %w", err)
	}
	defer g.Close()
	info.uploadSeconds, info.weightBytes, info.storage = time.Since(t0).Seconds(), g.WeightBytes, g.Storage()

	start := time.Now()
	r := eval.Result{TextTokens: len(ids), Windows: len(windows), SeqLen: seqLen, Tokens: len(windows) * seqLen}
	r.WindowNLL = make([]float64, len(windows))
	batch := max(1, min(len(windows), cudaBatchRows/seqLen))
	for i := 0; i < len(windows); i += batch {
		j := min(len(windows), i+batch)
		nll, err := g.NLL(windows[i:j])
		if err != nil {
			return eval.Result{}, info, fmt.Errorf("--device cuda: %w", err)
		}
		for k, w := range nll {
			r.WindowNLL[i+k] = hqruntime.MeanNLL(w)
		}
		if progress != nil {
			progress(j, len(windows))
		}
	}
	r.Seconds = time.Since(start).Seconds()
	if err := dev.Run(func(s *cuda.Stream) error {
		free, total := s.MemInfo()
		info.memoryUsed = int64(total - free)
		return nil
	}); err != nil {
		return eval.Result{}, info, fmt.Errorf("--device cuda: %w", err)
	}
	r.TokensPerS = float64(r.Tokens) / r.Seconds
	r.MeanNLL = hqruntime.MeanNLL(r.WindowNLL)
	r.PPL = math.Exp(r.MeanNLL)
	return r, info, nil
}
