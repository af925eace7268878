package tokenizer_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hyquant/hyquant/runtime/tokenizer"
)

// BenchmarkEncodeWikiText2 encodes the whole WikiText-2 test text (1.29 MB,
// 380,381 tokens). "cold" starts every iteration with a freshly parsed
// tokenizer (empty word cache; parsing is not timed), "warm" reuses one.
func BenchmarkEncodeWikiText2(b *testing.B) {
	text := wikiText2()
	data, err := os.ReadFile(filepath.Join(miniDir, "tokenizer.json"))
	if err != nil {
		b.Fatal(err)
	}
	parse := func() *tokenizer.Tokenizer {
		tk, err := tokenizer.Parse(data, "tokenizer.json")
		if err != nil {
			b.Fatal(err)
		}
		return tk
	}
	run := func(b *testing.B, fresh bool) {
		tk := parse()
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		n := 0
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if fresh {
				b.StopTimer()
				tk = parse()
				b.StartTimer()
			}
			n += len(tk.Encode(text))
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tokens/s")
	}
	b.Run("cold", func(b *testing.B) { run(b, true) })
	b.Run("warm", func(b *testing.B) { run(b, false) })
}

// BenchmarkEncodeWikiText2RegexPath is the same through regexp2 instead of
// the hand-written scanner, for comparison.
func BenchmarkEncodeWikiText2RegexPath(b *testing.B) {
	text := wikiText2()
	tk := tokenizer.WithRegexPath(mini(b))
	b.SetBytes(int64(len(text)))
	n := 0
	for i := 0; i < b.N; i++ {
		n += len(tk.Encode(text))
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "tokens/s")
}
