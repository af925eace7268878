package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Activation benchmarks, at every instruction-set level; they report
// million elements per second. Run with
//
//	go test -run '^$' -bench 'Exp|SiLU|ReLU2|Softmax|LogSumExp' -count 5 ./kernels/

func reportElems(b *testing.B, n int) {
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
}

// benchISAs runs f once per instruction-set level.
func benchISAs(b *testing.B, name string, f func(b *testing.B)) {
	for _, isa := range isas() {
		b.Run(fmt.Sprintf("%s/%v", name, isa), func(b *testing.B) {
			prev := SetISA(isa)
			defer SetISA(prev)
			f(b)
		})
	}
}

func activationInput(n int) []float32 {
	rng := rand.New(rand.NewPCG(5, 6))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * 3)
	}
	return x
}

func BenchmarkExpInPlace(b *testing.B) {
	const n = 1024 * 1024
	src := activationInput(n)
	x := make([]float32, n)
	benchISAs(b, "1024x1024", func(b *testing.B) {
		for b.Loop() {
			copy(x, src) // keeps the inputs in range; ~3% of the time
			ExpInPlace(x)
		}
		reportElems(b, n)
	})
}

func BenchmarkSiLU(b *testing.B) {
	const n = 1024 * 1024
	src := activationInput(n)
	x := make([]float32, n)
	benchISAs(b, "1024x1024", func(b *testing.B) {
		for b.Loop() {
			copy(x, src)
			SiLU(x)
		}
		reportElems(b, n)
	})
}

func BenchmarkSiLUMul(b *testing.B) {
	const n = 1024 * 512
	gate := activationInput(n)
	x := make([]float32, n)
	benchISAs(b, "1024x512", func(b *testing.B) {
		for b.Loop() {
			SiLUMul(x, gate)
		}
		reportElems(b, n)
	})
}

func BenchmarkReLU2(b *testing.B) {
	const n = 1024 * 1280
	x := activationInput(n)
	benchISAs(b, "1024x1280", func(b *testing.B) {
		for b.Loop() {
			ReLU2(x)
		}
		reportElems(b, n)
	})
}

func BenchmarkLogSumExp(b *testing.B) {
	const n = 8192
	x := activationInput(n)
	benchISAs(b, "8192", func(b *testing.B) {
		for b.Loop() {
			LogSumExp(x)
		}
		reportElems(b, n)
	})
}

func BenchmarkSoftmaxInPlace(b *testing.B) {
	const n = 1024
	src := activationInput(n)
	x := make([]float32, n)
	benchISAs(b, "1024", func(b *testing.B) {
		for b.Loop() {
			copy(x, src)
			SoftmaxInPlace(x)
		}
		reportElems(b, n)
	})
}
