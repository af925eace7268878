package eval

import (
	"fmt"
	"testing"
)

// BenchmarkPerplexityWorkers evaluates the mini model on 8 windows of 256
// tokens with 1 and 2 windows at a time:
//
//	go test -run '^$' -bench PerplexityWorkers ./eval/
func BenchmarkPerplexityWorkers(b *testing.B) {
	const windows, seqLen = 8, 256
	l, ids := miniWindows(b, windows, seqLen)
	for _, w := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", w), func(b *testing.B) {
			var r Result
			for b.Loop() {
				var err error
				if r, err = Perplexity(l.Model, ids, seqLen, 0, nil, Options{Workers: w}); err != nil {
					b.Fatal(err)
				}
			}
			if r.Windows != windows {
				b.Fatalf("%d windows", r.Windows)
			}
			b.ReportMetric(float64(windows*seqLen*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
