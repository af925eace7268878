package reports

import (
	"testing"

	"github.com/hyquant/hyquant/eval"
)

// The results table gains mean KL, KL p99 and top-1 columns when runs
// carry KL statistics (eval.kl), with dashes for runs that do not.
func TestKLColumns(t *testing.T) {
	r := fixture(t)
	w, err := Write(t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	mustNotContain(t, readReport(t, w), "mean KL")

	r.Runs[0].KLStats = &eval.KLStats{Positions: 1023, Top1Agreement: 1}
	r.Runs[1].KLStats = &eval.KLStats{Positions: 1023, MeanKL: 0.0123, KLP99: 0.25, Top1Agreement: 0.875}
	w, err = Write(t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	md := readReport(t, w)
	mustContain(t, md, "| Δ ppl | mean KL | KL p99 | top-1 | wall s |")
	mustContain(t, md, "| 0.00000 | 0.00000 | 100.00% |")
	mustContain(t, md, "| 0.01230 | 0.25000 | 87.50% |")
	mustContain(t, md, "| — | — | — |")
	mustContain(t, md, "Mean KL = mean over the scored positions of KL(P_baseline ‖ P_run)")
}
