// Package gpucalib runs quant/calib's calibrated pass on a CUDA device:
// runtime/gpu's Pass as a calib.BlockRunner.
package gpucalib

import (
	"fmt"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/kernels/cuda"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/calib"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/gpu"
)

// Runner uploads the model to dev (held as opts says) for each calibrated
// pass and runs its blocks there. The statistics it hands out send GPTQ's
// large products to dev too (quant.Stats.Products).
func Runner(dev *cuda.Device, opts gpu.Options) calib.NewRunner {
	return func(m *runtime.Model, segs [][]int) (calib.BlockRunner, error) {
		g, err := gpu.Upload(dev, m, opts)
		if err != nil {
			return nil, fmt.Errorf("calibration on %s: %w", dev, err)
		}
		p, err := gpu.NewPass(g, m, segs)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("calibration on %s: %w", dev, err)
		}
		return &runner{g: g, p: p, prods: &products{dev: dev, minMACs: deviceMinMACs}}, nil
	}
}

type runner struct {
	g     *gpu.Model
	p     *gpu.Pass
	prods *products
}

func (r *runner) Observe(block int, names []string) (map[string]*quant.Stats, error) {
	in, err := r.p.Observe(block, names)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*quant.Stats, len(in))
	for name, s := range in {
		out[name] = &quant.Stats{Name: name, Cols: s.Cols, Rows: s.Rows, XtX: s.XtX, Sum: s.Sum, AbsMax: s.AbsMax, Products: r.prods}
	}
	return out, nil
}

func (r *runner) Advance(block int) error                     { return r.p.Advance(block) }
func (r *runner) Replace(name string, l kernels.Linear) error { return r.p.Replace(name, l) }

func (r *runner) Close() {
	r.prods.close()
	r.p.Close()
	r.g.Close()
}
