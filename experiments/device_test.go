package experiments_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/experiments"
	"github.com/hyquant/hyquant/quant/calib"
	"github.com/hyquant/hyquant/runtime"
)

// cpuDevice is an experiments.Device that evaluates on the CPU and counts
// what it was asked to do.
type cpuDevice struct{ perplexity, compare, calibration int }

func (d *cpuDevice) Name() string { return "test device" }

func (d *cpuDevice) Perplexity(ctx context.Context, m *runtime.Model, ids []int, seqLen, maxWindows int, progress eval.Progress) (eval.Result, error) {
	d.perplexity++
	return eval.PerplexityContext(ctx, m, ids, seqLen, maxWindows, progress)
}

func (d *cpuDevice) Compare(ctx context.Context, m, base *runtime.Model, ids []int, seqLen, maxWindows int, progress eval.Progress) (eval.KLResult, error) {
	d.compare++
	return eval.CompareContext(ctx, m, base, ids, seqLen, maxWindows, progress)
}

func (d *cpuDevice) Calibration() calib.NewRunner {
	d.calibration++
	return nil // the CPU pass
}

// TestExecuteOnDevice runs the tiny experiment on a Device: every run is
// evaluated there and records its name, the numbers equal the CPU's, and
// the hashes differ from the CPU's, so a directory never mixes the two.
func TestExecuteOnDevice(t *testing.T) {
	dir := t.TempDir()
	cpu, err := experiments.Execute(context.Background(), tinyConfig(t, filepath.Join(dir, "cpu")), experiments.Options{Quiet: true})
	if err != nil {
		t.Fatal(err)
	}
	d := &cpuDevice{}
	got, err := experiments.Execute(context.Background(), tinyConfig(t, filepath.Join(dir, "device")), experiments.Options{Quiet: true, Device: d})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Runs) != len(cpu.Runs) || d.perplexity != len(got.Runs) || d.calibration != len(got.Runs)-1 {
		t.Fatalf("%d runs (CPU %d); the device evaluated %d and calibrated %d", len(got.Runs), len(cpu.Runs), d.perplexity, d.calibration)
	}
	for i, r := range got.Runs {
		c := cpu.Runs[i]
		if r.Device != "test device" || c.Device != "" {
			t.Errorf("%s: device %q (CPU run: %q)", r.Name, r.Device, c.Device)
		}
		if r.Hash == c.Hash {
			t.Errorf("%s: the device's run has the CPU's hash %s", r.Name, r.Hash)
		}
		if r.PPL != c.PPL {
			t.Errorf("%s: ppl %v on the device, %v on the CPU", r.Name, r.PPL, c.PPL)
		}
	}
}
