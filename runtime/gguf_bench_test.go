package runtime

import "testing"

// BenchmarkGGUFQ4KMWindow runs one 1024-token window of llama-quantize's
// Q4_K_M file on its packed blocks (compare BenchmarkMiniWindow figures in
// BENCHMARKS.md for the float and int4 paths).
func BenchmarkGGUFQ4KMWindow(b *testing.B) {
	l, err := OpenModel(q4kmGGUF, WeightsAuto)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ids := make([]int, 1024)
	for i := range ids {
		ids[i] = (i * 7919) % l.Model.Config.VocabSize
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Model.NLL(ids); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(ids))/b.Elapsed().Seconds(), "tokens/s")
}
