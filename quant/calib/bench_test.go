package calib_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/quant/calib"
	"github.com/hyquant/hyquant/quant/plan"
	"github.com/hyquant/hyquant/runtime"
)

// BenchmarkCalibrationWorkers times the calibrated pass on the mini: 32
// segments of 512 tokens through every block, statistics for every
// projection (Q8_0 with an importance matrix, so quantising costs little
// beside the pass), one segment at a time and all CPUs' worth at once.
// It prints calibration tokens per second.
func BenchmarkCalibrationWorkers(b *testing.B) {
	l, err := runtime.OpenModel("", runtime.WeightsFloat32)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r, err := plan.ResolveYAML([]byte("name: q8\ndefault: {method: ggml, type: q8_0, imatrix: true}\ncategories:\n  embedding: keep\n  ssm_conv1d: keep\n  ssm_norm: keep\n  ssm_core: keep\n  block_norm: keep\n  final_norm: keep\n"), "q8.yaml", l.Files)
	if err != nil {
		b.Fatal(err)
	}
	text, err := datasets.Load(datasets.WikiText103Valid)
	if err != nil {
		b.Fatal(err)
	}
	ids := l.Tokenizer.Encode(text.Body)
	var segs [][]int
	for k := 0; k < 32; k++ {
		segs = append(segs, ids[k*600:k*600+512])
	}
	// all-cpus-serial-kernels caps each product at one goroutine
	// (kernels.SetThreads(1)) while the segments fill the CPUs: whether the
	// kernels' own split of each segment's GEMMs costs more than it gives.
	for _, v := range []struct {
		name             string
		workers, threads int
	}{{"one-at-a-time", 1, 0}, {"all-cpus", 0, 0}, {"all-cpus-serial-kernels", 0, 1}} {
		name, w := v.name, v.workers
		b.Run(name, func(b *testing.B) {
			defer kernels.SetThreads(kernels.SetThreads(v.threads))
			var tokens int
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if _, err := calib.Apply(l.Files.Config, l.Weights, r, calib.ApplyOptions{Segments: segs, Workers: w}); err != nil {
					b.Fatal(err)
				}
				tokens += 32 * 512
			}
			b.ReportMetric(float64(tokens)/time.Since(start).Seconds(), "tokens/s")
			fmt.Printf("calibration %s: %.0f tokens/s\n", name, float64(tokens)/time.Since(start).Seconds())
		})
	}
}
