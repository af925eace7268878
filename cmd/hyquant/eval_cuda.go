package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/kernels/cuda"
	"github.com/hyquant/hyquant/quant/calib"
	hqruntime "github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/gpu"
	"github.com/hyquant/hyquant/runtime/gpu/gpucalib"
)

// cudaEval is what eval --device cuda reports beyond the perplexity.
type cudaEval struct {
	device        string
	uploadSeconds float64
	weightBytes   int64
	memoryUsed    int64 // device memory in use after the last batch
	storage       string
}

// uploadCUDA uploads the models (the evaluated one first) and records the
// upload in info.
func uploadCUDA(dev *cuda.Device, opts gpu.Options, info *cudaEval, ms ...*hqruntime.Model) ([]*gpu.Model, func(), error) {
	info.device = dev.String()
	t0 := time.Now()
	var gs []*gpu.Model
	release := func() {
		for _, g := range gs {
			g.Close()
		}
	}
	for _, m := range ms {
		g, err := gpu.Upload(dev, m, opts)
		if err != nil {
			release()
			return nil, nil, fmt.Errorf("--device cuda: %w", err)
		}
		gs = append(gs, g)
		info.weightBytes += g.WeightBytes
	}
	info.uploadSeconds, info.storage = time.Since(t0).Seconds(), gs[0].Storage()
	return gs, release, nil
}

// memoryInUse records the device memory in use in info.
func memoryInUse(dev *cuda.Device, info *cudaEval) error {
	return dev.Run(func(s *cuda.Stream) error {
		free, total := s.MemInfo()
		info.memoryUsed = int64(total - free)
		return nil
	})
}

// perplexityCUDA is eval.Perplexity on the GPU: the weights are uploaded
// once (gpu.Upload says how each is held), then windows run in batches,
// each window's mean loss taken on the host in the CPU's order.
func perplexityCUDA(ctx context.Context, dev *cuda.Device, m *hqruntime.Model, opts gpu.Options, ids []int, seqLen, maxWindows int, progress eval.Progress) (eval.Result, cudaEval, error) {
	var info cudaEval
	gs, release, err := uploadCUDA(dev, opts, &info, m)
	if err != nil {
		return eval.Result{}, info, err
	}
	defer release()
	r, err := eval.PerplexityBatches(ctx, gs[0].NLL, gpu.BatchRows/seqLen, ids, seqLen, maxWindows, progress)
	if err == nil {
		err = memoryInUse(dev, &info)
	}
	if err != nil {
		return eval.Result{}, info, fmt.Errorf("--device cuda: %w", err)
	}
	return r, info, nil
}

// compareCUDA is eval.Compare on the GPU: both models resident, both
// forward passes and the per-position comparison on the device.
func compareCUDA(ctx context.Context, dev *cuda.Device, m, base *hqruntime.Model, opts gpu.Options, ids []int, seqLen, maxWindows int, progress eval.Progress) (eval.KLResult, cudaEval, error) {
	var info cudaEval
	gs, release, err := uploadCUDA(dev, opts, &info, m, base)
	if err != nil {
		return eval.KLResult{}, info, err
	}
	defer release()
	compare := func(ws [][]int) ([][]eval.Position, error) { return gpu.Compare(gs[0], gs[1], ws) }
	r, err := eval.CompareBatches(ctx, compare, gpu.BatchRows/seqLen, ids, seqLen, maxWindows, progress)
	if err == nil {
		err = memoryInUse(dev, &info)
	}
	if err != nil {
		return eval.KLResult{}, info, fmt.Errorf("--device cuda: %w", err)
	}
	return r, info, nil
}

// cudaDevice is experiments.Device on a GPU, in fp32 products (the parity
// mode: an experiment's numbers must not depend on where it ran beyond
// rounding).
type cudaDevice struct{ dev *cuda.Device }

func (d cudaDevice) Name() string { return "cuda fp32 on " + d.dev.Name }

func (d cudaDevice) Perplexity(ctx context.Context, m *hqruntime.Model, ids []int, seqLen, maxWindows int, progress eval.Progress) (eval.Result, error) {
	r, _, err := perplexityCUDA(ctx, d.dev, m, gpu.Options{Math: gpu.MathFP32}, ids, seqLen, maxWindows, progress)
	return r, err
}

func (d cudaDevice) Compare(ctx context.Context, m, base *hqruntime.Model, ids []int, seqLen, maxWindows int, progress eval.Progress) (eval.KLResult, error) {
	r, _, err := compareCUDA(ctx, d.dev, m, base, gpu.Options{Math: gpu.MathFP32}, ids, seqLen, maxWindows, progress)
	return r, err
}

func (d cudaDevice) Calibration() calib.NewRunner {
	return gpucalib.Runner(d.dev, gpu.Options{Math: gpu.MathFP32})
}
