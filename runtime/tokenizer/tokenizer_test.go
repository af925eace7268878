package tokenizer_test

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/hyquant/hyquant/datasets"
	"github.com/hyquant/hyquant/eval"
	"github.com/hyquant/hyquant/runtime/tokenizer"
)

const miniDir = "../../models/nemotron-h-mini"

var (
	miniOnce sync.Once
	miniTok  *tokenizer.Tokenizer
	miniErr  error
)

func mini(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	miniOnce.Do(func() { miniTok, miniErr = tokenizer.Load(filepath.Join(miniDir, "tokenizer.json")) })
	if miniErr != nil {
		t.Fatal(miniErr)
	}
	return miniTok
}

func wikiText2() string {
	return eval.JoinRows(datasets.MustEmbedded(datasets.WikiText2Test).Body)
}

// goldenInputIDs reads input_ids (I32, [1024]) from golden.safetensors with
// a minimal safetensors parser: 8-byte little-endian header length, JSON
// header, raw little-endian data.
func goldenInputIDs(t *testing.T) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(miniDir, "golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 8 {
		t.Fatal("golden.safetensors: too short")
	}
	n := binary.LittleEndian.Uint64(b[:8])
	if n > uint64(len(b)-8) {
		t.Fatalf("golden.safetensors: header length %d beyond the file", n)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatal(err)
	}
	var info struct {
		Dtype       string `json:"dtype"`
		Shape       []int  `json:"shape"`
		DataOffsets [2]int `json:"data_offsets"`
	}
	if err := json.Unmarshal(header["input_ids"], &info); err != nil {
		t.Fatal(err)
	}
	if info.Dtype != "I32" || !slices.Equal(info.Shape, []int{1024}) {
		t.Fatalf("input_ids: dtype %s shape %v, want I32 [1024]", info.Dtype, info.Shape)
	}
	data := b[8+n:]
	lo, hi := info.DataOffsets[0], info.DataOffsets[1]
	if lo < 0 || hi > len(data) || hi-lo != 4*1024 {
		t.Fatalf("input_ids: bad data_offsets %v", info.DataOffsets)
	}
	ids := make([]int, 1024)
	for i := range ids {
		ids[i] = int(int32(binary.LittleEndian.Uint32(data[lo+4*i:])))
	}
	return ids
}

// The reference protocol: WikiText-2 test encodes to exactly the ids of the
// transformers reference run.
func TestWikiText2Golden(t *testing.T) {
	tk := mini(t)
	ids := tk.Encode(wikiText2())
	if len(ids) != 380381 {
		t.Fatalf("WikiText-2 test encodes to %d tokens, want 380381", len(ids))
	}
	var golden struct {
		TestTokens int   `json:"test_tokens"`
		FirstIDs   []int `json:"first_ids"`
	}
	b, err := os.ReadFile(filepath.Join(miniDir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	if golden.TestTokens != len(ids) {
		t.Errorf("golden.json test_tokens = %d, encoded %d", golden.TestTokens, len(ids))
	}
	if len(golden.FirstIDs) != 64 || !slices.Equal(ids[:64], golden.FirstIDs) {
		t.Errorf("first 64 ids differ from golden.json:\n got %v\nwant %v", ids[:64], golden.FirstIDs)
	}
	want := goldenInputIDs(t)
	for i := range want {
		if ids[i] != want[i] {
			t.Fatalf("id %d = %d (%q), golden.safetensors input_ids has %d (%q)", i, ids[i], tk.Token(ids[i]), want[i], tk.Token(want[i]))
		}
	}
}

func TestWikiText2RoundTrip(t *testing.T) {
	tk := mini(t)
	text := wikiText2()
	if got := tk.Decode(tk.Encode(text)); got != text {
		i := 0
		for i < len(got) && i < len(text) && got[i] == text[i] {
			i++
		}
		t.Fatalf("Decode(Encode(text)) differs from text at byte %d", i)
	}
}

// The regexp2 path gives the same ids as the hand-written scanner on the
// whole reference text.
func TestWikiText2RegexPathIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: runs regexp2 over 1.3 MB")
	}
	tk := mini(t)
	if !tokenizer.UsesScanner(tk) {
		t.Fatal("the Nemotron-H pattern should run on the hand-written scanner")
	}
	text := wikiText2()
	fast := tk.Encode(text)
	general := tokenizer.WithRegexPath(tk).Encode(text)
	if !slices.Equal(fast, general) {
		t.Fatal("scanner and regexp2 paths give different ids on WikiText-2")
	}
}

// Hand-checked cases. The piece boundaries (noted per case) were worked out
// by hand from the pattern's alternatives; the ids were then cross-checked
// with testdata/hfref.py, an independent implementation (regex module and
// the classic GPT-2 merge loop).
func TestEncodeHandChecked(t *testing.T) {
	tk := mini(t)
	cases := []struct {
		text   string
		pieces string // how the Split regex cuts it, for the reader
		want   []int
	}{
		{"I'm here", `I | 'm | " here"`, []int{43, 1779, 1382}},
		// Contractions are case-insensitive.
		{"HE'S GONE, they'LL see", `HE | 'S | " GONE" | , | " they" | 'LL | " see"`,
			[]int{4239, 9, 53, 458, 4184, 39, 14, 521, 9, 5063, 895}},
		// ſ (U+017F) case-folds to s, so 'ſ is a contraction.
		{"it'ſ", `it | 'ſ`, []int{275, 9, 132, 126}},
		// Numbers in groups of at most 3 digits, from the left.
		{"1234567", `123 | 456 | 7`, []int{2592, 21, 22, 23, 24, 25}},
		{"The year 2024 was 365 days long.", `The | " year" | " " | 202 | 4 | " was" | " " | 365 | " days" | " long" | .`,
			[]int{405, 751, 223, 2438, 20, 22, 402, 223, 8173, 23, 1754, 805, 16}},
		{"$100.50", `$ | 100 | . | 50`, []int{6, 3385, 16, 3307}},
		// Superscripts are \p{N} (No).
		{"x²³", `x | ²³`, []int{90, 129, 113, 129, 114}},
		// A run of spaces gives its last space to the next word.
		{"   hello", `"  " | " hello"`, []int{292, 6557, 81}},
		// Trailing spaces stay together (\s+(?!\S) at the end).
		{"end   ", `end | "   "`, []int{435, 1136}},
		{"a\n\nb", `a | \n\n | b`, []int{67, 201, 201, 68}},
		{"a\r\nb", `a | \r\n | b`, []int{67, 204, 201, 68}},
		// \s*[\r\n]+ stops at the last newline; then \s+(?!\S) and " y".
		{"x  \n  y", `x | "  \n" | " " | " y"`, []int{90, 292, 201, 223, 359}},
		// Punctuation takes the newlines after it.
		{"hi!!!\n\nok", `hi | !!!\n\n | ok`, []int{74, 75, 3, 3, 1207, 201, 531}},
		// Any non-letter, non-digit, non-newline character may prefix a word.
		{"\tfoo", `\tfoo`, []int{200, 72, 3444}},
		{"\u00a0word", `\u00a0word`, []int{1684, 5928}},
		{"'ll've'x", `'ll | 've | 'x`, []int{1912, 2197, 9, 90}},
		// Non-ASCII letters.
		{"café naïve", `café | " naïve"`, []int{69, 1853, 130, 105, 303, 67, 130, 110, 315}},
		{"Привет, мир!", `Привет | , | " мир" | !`,
			[]int{143, 256, 144, 225, 143, 119, 143, 113, 143, 116, 144, 227, 14, 223, 143, 123, 143, 119, 144, 225, 3}},
		{"日本語のテキスト", `one piece (all \p{L})`,
			[]int{165, 248, 101, 165, 253, 108, 167, 106, 255, 162, 226, 109, 162, 228, 231, 162, 227, 258, 162, 227, 120, 162, 228, 233}},
		// Emoji are neither letters nor digits: " ❤️" and " 🤗!" are
		// punctuation runs with their leading space.
		{"I ❤️ 🤗!", `I | " ❤️" | " 🤗!"`, []int{43, 223, 161, 254, 100, 174, 119, 240, 223, 175, 256, 100, 248, 3}},
		// Added (special) tokens are cut out before the regex runs.
		{"<s>Hello</s>", `<s> | Hello | </s>`, []int{1, 42, 529, 81, 2}},
		{"<unk> <s<s>>", `<unk> | " <" | s | <s> | >`, []int{0, 6134, 85, 1, 32}},
		{"", "", []int{}},
	}
	for _, c := range cases {
		got := tk.Encode(c.text)
		if !slices.Equal(got, c.want) {
			toks := func(ids []int) []string {
				var s []string
				for _, id := range ids {
					s = append(s, tk.Token(id))
				}
				return s
			}
			t.Errorf("Encode(%q) [%s]\n got %v %q\nwant %v %q", c.text, c.pieces, got, toks(got), c.want, toks(c.want))
		}
		if d := tk.Decode(got); d != c.text {
			t.Errorf("Decode(Encode(%q)) = %q", c.text, d)
		}
	}
}

func TestVocabularyAndSpecials(t *testing.T) {
	tk := mini(t)
	if n := tk.VocabSize(); n != 8192 {
		t.Errorf("VocabSize = %d, want 8192", n)
	}
	for _, c := range []struct {
		name string
		f    func() (int, bool)
		id   int
		ok   bool
	}{
		{"BOS", tk.BOS, 1, true},
		{"EOS", tk.EOS, 2, true},
		{"UNK", tk.UNK, 0, true},
		{"PAD", tk.PAD, -1, false},
	} {
		if id, ok := c.f(); id != c.id || ok != c.ok {
			t.Errorf("%s() = %d, %v; want %d, %v", c.name, id, ok, c.id, c.ok)
		}
	}
	for tok, want := range map[string]int{"<unk>": 0, "<s>": 1, "</s>": 2, "!": 3, "Ġthe": 266, "Ċ": 201} {
		if id, ok := tk.TokenID(tok); !ok || id != want {
			t.Errorf("TokenID(%q) = %d, %v; want %d", tok, id, ok, want)
		}
		if got := tk.Token(want); got != tok {
			t.Errorf("Token(%d) = %q, want %q", want, got, tok)
		}
	}
	if _, ok := tk.TokenID("no such token"); ok {
		t.Error("TokenID of an unknown token succeeded")
	}
	if tk.Token(-1) != "" || tk.Token(8192) != "" {
		t.Error("Token of an out-of-range id is not empty")
	}
	// Special tokens decode to their content; unknown ids are skipped.
	if got := tk.Decode([]int{1, 42, 529, 81, 2, -5, 99999}); got != "<s>Hello</s>" {
		t.Errorf("Decode = %q", got)
	}
}

// Decoding a token sequence that splits a UTF-8 character gives U+FFFD per
// maximal invalid subpart, as Rust's from_utf8_lossy.
func TestDecodePartialUTF8(t *testing.T) {
	tk := mini(t)
	ids := tk.Encode("é") // two byte tokens: Ã ©
	if len(ids) != 2 {
		t.Fatalf("Encode(é) = %v, want two byte tokens", ids)
	}
	if got := tk.Decode(ids[:1]); got != "\uFFFD" {
		t.Errorf("Decode(first byte of é) = %q", got)
	}
	if got := tk.Decode([]int{ids[0], ids[0], ids[1]}); got != "\uFFFDé" {
		t.Errorf("Decode(C3 C3 A9) = %q", got)
	}
}

func TestLossyUTF8(t *testing.T) {
	// Expected values follow Rust's String::from_utf8_lossy (the Unicode
	// "maximal subpart" practice); Go's strings.ToValidUTF8 would differ.
	cases := []struct{ in, want string }{
		{"plain", "plain"},
		{"\xe2\x82", "\uFFFD"},
		{"\xe2\x82z", "\uFFFDz"},
		{"\xf0\x80", "\uFFFD\uFFFD"},
		{"\xc0\xaf", "\uFFFD\uFFFD"},
		{"\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"},
		{"a\xf1\x80\x80", "a\uFFFD"},
		{"\xf1\x80\x80\xf1\x80\x80z", "\uFFFD\uFFFDz"},
		{"\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\xff\xfe", "\uFFFD\uFFFD"},
		{"\xe0\xa0\x80\x80", "\u0800\uFFFD"},
	}
	for _, c := range cases {
		if got := tokenizer.LossyUTF8([]byte(c.in)); got != c.want {
			t.Errorf("LossyUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// Scanner pieces for the three known patterns, checked by hand, and the same
// pieces from regexp2.
func TestScannerPieces(t *testing.T) {
	llama3, gpt2 := tokenizer.KnownPatterns[0], tokenizer.KnownPatterns[2]
	cases := []struct {
		pattern, text string
		want          []string
	}{
		{llama3, "I'm HERE'S", []string{"I", "'m", " HERE", "'S"}},
		{llama3, "'ſ'K", []string{"'ſ", "'K"}},
		{llama3, "1234567", []string{"123", "456", "7"}},
		{llama3, "   hello", []string{"  ", " hello"}},
		{llama3, " \n \n x", []string{" \n \n", " x"}},
		{llama3, "a \t", []string{"a", " \t"}},
		{llama3, "x  ", []string{"x", "  "}},
		{llama3, " !?\r\n\nz", []string{" !?\r\n\n", "z"}},
		{llama3, "\u3000漢字", []string{"\u3000漢字"}},
		{llama3, "é\u0301", []string{"é", "\u0301"}}, // a combining mark is not \p{L}
		{llama3, "\xffabc", []string{"\xffabc"}},     // invalid UTF-8 is U+FFFD
		{tokenizer.KnownPatterns[1], "12345", []string{"1", "2", "3", "4", "5"}},
		// From HF's byte_level.rs tests.
		{gpt2, "Hello my friend, how is your day going?", []string{"Hello", " my", " friend", ",", " how", " is", " your", " day", " going", "?"}},
		{gpt2, "Hello there\nHello there", []string{"Hello", " there", "\n", "Hello", " there"}},
		{gpt2, "Hello there       dear", []string{"Hello", " there", "      ", " dear"}},
		{gpt2, "i⭢j", []string{"i", "⭢", "j"}},
		{gpt2, "I'M 12345 'S", []string{"I", "'", "M", " 12345", " '", "S"}},
	}
	for _, c := range cases {
		if got := tokenizer.ScanPieces(c.pattern, c.text); !slices.Equal(got, c.want) {
			t.Errorf("scanner %q: got %q, want %q", c.text, got, c.want)
		}
		if got := tokenizer.RegexPieces(c.pattern, c.text); !slices.Equal(got, c.want) {
			t.Errorf("regexp2 %q: got %q, want %q", c.text, got, c.want)
		}
	}
}

// scannerCorpus is text that exercises every alternative and Unicode class
// boundary of the patterns.
func scannerCorpus() []string {
	out := []string{
		"", " ", "  ", "\n", " \n", "\n ", "a", "'", "''", "'s", "'S", "'ſ", "'ll", "'LL", "'lL", "'l", "'re", "'rE", "'r",
		"'ve", "'v", "'m", "'d", "'t", "'x", "' s", "it's", "don't", "we'll've", "I'M", "'K", "'\u212a",
		"0", "12", "123", "1234", "١٢٣٤", "²³⁴⁵", "Ⅻ", "a1b22c333d4444", " 1", "  12", "x 1234 y",
		"hello world", "  hello", "   hello  world   ", "\thello", "\u00a0hello", "\u2003hello", "\u3000hello", "\u0085hello",
		"\r\n", "a\r\nb", "\n\n\nb", " \n \n b", "\t\n\t", "a\n", "a \n", "a  \n  b", "x\u2028y", "x\u2029\u2029y",
		"!", "!!", " !", "  !", " !!\n\n", "!\r\n", "?\n x", "...", "—", " —", "(a)", "[1]", "«quote»", "$5", "#tag", "@user",
		"é", "é", "naïve café", "Ελληνικά", "Русский язык", "עברית", "العربية", "हिन्दी", "ไทย", "中文字符", "日本語", "한국어",
		"🤗", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "a🤗b", " 🤗 ", "x\u200dy", "\u0301", "a\u0301", "\ufeffa",
		"\x00\x01\x1f\x7f", "\x1c\x1d", "\v\f", "\xff", "a\xffb", "\xe2\x82", "\xc3", "'\xff",
		"The quick brown fox's 3 jumps over 12345 lazy dogs!!\n\n  Done.  ",
	}
	return out
}

func TestScannerMatchesRegex(t *testing.T) {
	texts := append(scannerCorpus(), wikiText2()[:200000])
	// Pairwise concatenations reach boundary interactions.
	base := scannerCorpus()
	for i, a := range base {
		for _, b := range base[i%7:][:min(9, len(base)-i%7)] {
			texts = append(texts, a+b)
		}
	}
	for _, pat := range tokenizer.KnownPatterns {
		for _, s := range texts {
			fast := tokenizer.ScanPieces(pat, s)
			general := tokenizer.RegexPieces(pat, s)
			if !slices.Equal(fast, general) {
				t.Errorf("pattern %q, text %q:\nscanner %q\nregexp2 %q", pat, s, fast, general)
			}
		}
	}
}

// FuzzScannerMatchesRegex checks that the hand-written scanner cuts any input
// exactly as regexp2 running the same pattern. Seed corpus:
// testdata/fuzz/FuzzScannerMatchesRegex.
func FuzzScannerMatchesRegex(f *testing.F) {
	for _, s := range scannerCorpus() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, pat := range tokenizer.KnownPatterns {
			fast := tokenizer.ScanPieces(pat, s)
			general := tokenizer.RegexPieces(pat, s)
			if !slices.Equal(fast, general) {
				t.Fatalf("pattern %q, text %q:\nscanner %q\nregexp2 %q", pat, s, fast, general)
			}
			if strings.Join(fast, "") != s {
				t.Fatalf("pieces %q do not tile %q", fast, s)
			}
		}
	})
}

// FuzzRoundTrip checks Decode(Encode(s)) == s for valid UTF-8, and that the
// regexp2 path gives the same ids. Seed corpus: testdata/fuzz/FuzzRoundTrip.
func FuzzRoundTrip(f *testing.F) {
	tk := mini(f)
	general := tokenizer.WithRegexPath(tk)
	for _, s := range scannerCorpus() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		ids := tk.Encode(s)
		if got := tk.Decode(ids); got != s {
			t.Fatalf("Decode(Encode(%q)) = %q (ids %v)", s, got, ids)
		}
		if ids2 := general.Encode(s); !slices.Equal(ids, ids2) {
			t.Fatalf("Encode(%q): scanner path %v, regexp2 path %v", s, ids, ids2)
		}
	})
}

// Ported from HF tokenizers' pre_tokenizers/split.rs tests.
func TestSplitBehaviors(t *testing.T) {
	const s = "How are you doing?"
	cases := []struct {
		behavior string
		want     []string
	}{
		{"Removed", []string{"How", "are", "you", "doing", "?"}},
		{"Isolated", []string{"How", " ", "are", " ", "you", " ", "doing", "?"}},
		{"MergedWithPrevious", []string{"How ", "are ", "you ", "doing", "?"}},
		{"MergedWithNext", []string{"How", " are", " you", " doing", "?"}},
		{"Contiguous", []string{"How", " ", "are", " ", "you", " ", "doing?"}},
	}
	for _, c := range cases {
		js := `{"type":"Split","pattern":{"Regex":"\\w+|[^\\w\\s]+"},"behavior":"` + c.behavior + `","invert":true}`
		got, err := tokenizer.SplitWith(js, s)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.behavior, got, c.want)
		}
	}
	// A String pattern and the equivalent regex agree; inverting a split on
	// "Hello" equals splitting on " ".
	a, _ := tokenizer.SplitWith(`{"type":"Split","pattern":{"Regex":"\\s+"},"behavior":"Removed","invert":false}`, "Hey, man!")
	b, _ := tokenizer.SplitWith(`{"type":"Split","pattern":{"String":" "},"behavior":"Removed","invert":false}`, "Hey, man!")
	if !slices.Equal(a, b) || !slices.Equal(a, []string{"Hey,", "man!"}) {
		t.Errorf("regex %q vs string %q", a, b)
	}
	c, _ := tokenizer.SplitWith(`{"type":"Split","pattern":{"String":" "},"behavior":"Removed","invert":false}`, "Hello Hello Hello")
	d, _ := tokenizer.SplitWith(`{"type":"Split","pattern":{"String":"Hello"},"behavior":"Removed","invert":true}`, "Hello Hello Hello")
	if !slices.Equal(c, d) || !slices.Equal(c, []string{"Hello", "Hello", "Hello"}) {
		t.Errorf("split on space %q vs inverted split on Hello %q", c, d)
	}
}

// miniJSON returns the mini tokenizer.json as a generic tree, for variants.
func miniJSON(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(miniDir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func parseTree(t *testing.T, m map[string]any, name string) (*tokenizer.Tokenizer, error) {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return tokenizer.Parse(b, name)
}

func TestUnsupportedFeatures(t *testing.T) {
	cases := []struct {
		field  string // expected in the message
		modify func(m map[string]any)
	}{
		{"normalizer", func(m map[string]any) { m["normalizer"] = map[string]any{"type": "NFC"} }},
		{"model.byte_fallback", func(m map[string]any) { m["model"].(map[string]any)["byte_fallback"] = true }},
		{"model.dropout", func(m map[string]any) { m["model"].(map[string]any)["dropout"] = 0.1 }},
		{"model.type", func(m map[string]any) { m["model"].(map[string]any)["type"] = "Unigram" }},
		{"model.continuing_subword_prefix", func(m map[string]any) { m["model"].(map[string]any)["continuing_subword_prefix"] = "##" }},
		{"model.merges[3]", func(m map[string]any) {
			m["model"].(map[string]any)["merges"].([]any)[3] = []any{"Ġ", "no-such-token"}
		}},
		{"pre_tokenizer.pretokenizers[0].type", func(m map[string]any) {
			m["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[0] = map[string]any{"type": "Whitespace"}
		}},
		{"pre_tokenizer.pretokenizers[1].add_prefix_space", func(m map[string]any) {
			m["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[1].(map[string]any)["add_prefix_space"] = true
		}},
		{"pre_tokenizer.pretokenizers[0].pattern.Regex", func(m map[string]any) {
			m["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[0].(map[string]any)["pattern"] = map[string]any{"Regex": "(unclosed"}
		}},
		{"pre_tokenizer", func(m map[string]any) { m["pre_tokenizer"] = nil }},
		{"decoder.type", func(m map[string]any) { m["decoder"] = map[string]any{"type": "Metaspace"} }},
		{"truncation", func(m map[string]any) { m["truncation"] = map[string]any{"max_length": 512} }},
		{"padding", func(m map[string]any) { m["padding"] = map[string]any{"strategy": "BatchLongest"} }},
	}
	for _, c := range cases {
		m := miniJSON(t)
		c.modify(m)
		_, err := parseTree(t, m, "variant.json")
		if err == nil {
			t.Errorf("%s: no error", c.field)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "variant.json") || !strings.Contains(msg, c.field+":") {
			t.Errorf("%s: error %q does not name the file and the field", c.field, msg)
		}
	}
	if _, err := tokenizer.Load("no/such/tokenizer.json"); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

// Added-token options, with the matching rules of HF's
// AddedVocabulary::find_matches.
func TestAddedTokenOptions(t *testing.T) {
	m := miniJSON(t)
	add := func(id int, content string, opts map[string]bool) {
		tok := map[string]any{"id": id, "content": content, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": true}
		for k, v := range opts {
			tok[k] = v
		}
		m["added_tokens"] = append(m["added_tokens"].([]any), tok)
	}
	// Ids beyond the mini vocabulary: these tokens exist only as added tokens.
	add(8192, "[MASK]", map[string]bool{"lstrip": true})
	add(8193, "[SEP]", map[string]bool{"rstrip": true})
	add(8194, "qz", map[string]bool{"single_word": true, "special": false, "normalized": true})
	add(8195, "[SEP]x", nil) // longer match wins at the same start
	// A token already in the vocabulary keeps its vocabulary id, as HF's
	// add_tokens does (the file's id is only checked, with a warning).
	add(9999, "ab", nil)
	tk, err := parseTree(t, m, "added.json")
	if err != nil {
		t.Fatal(err)
	}
	if tk.VocabSize() != 8196 {
		t.Errorf("VocabSize = %d, want 8196", tk.VocabSize())
	}
	plain := mini(t)
	cat := func(parts ...any) []int {
		var ids []int
		for _, p := range parts {
			switch p := p.(type) {
			case int:
				ids = append(ids, p)
			case string:
				ids = append(ids, plain.Encode(p)...)
			}
		}
		return ids
	}
	cases := []struct {
		text string
		want []int
	}{
		// lstrip: the token takes the spaces on its left.
		{"hello  [MASK] world", cat("hello", 8192, " world")},
		// rstrip: and on its right.
		{"a [SEP]  b", cat("a ", 8193, "b")},
		{"a [SEP]xb", cat("a ", 8195, "b")},
		// single_word: only where not inside a word.
		{"qz cqz qzc qz", cat(8194, " cqz qzc ", 8194)},
		{"(qz)", cat("(", 8194, ")")},
		{"cab", cat("c", 390)},
		{"<s>[MASK]</s>", cat(1, 8192, 2)},
	}
	for _, c := range cases {
		if got := tk.Encode(c.text); !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
	}
	if id, ok := tk.TokenID("ab"); !ok || id != 390 {
		t.Errorf("TokenID(ab) = %d, %v; want 390", id, ok)
	}
	if got := tk.Decode([]int{8192, 8194}); got != "[MASK]qz" {
		t.Errorf("Decode = %q", got)
	}
}

// tinyJSON builds a small byte-level BPE tokenizer with no split regex
// (the whole input is one word).
func tinyJSON(vocab map[string]int, merges [][2]string, model map[string]any) []byte {
	ms := make([]any, len(merges))
	for i, p := range merges {
		ms[i] = []string{p[0], p[1]}
	}
	md := map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
		"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
		"vocab": vocab, "merges": ms}
	for k, v := range model {
		md[k] = v
	}
	b, _ := json.Marshal(map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": []any{}, "normalizer": nil,
		"pre_tokenizer":  map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		"post_processor": nil, "decoder": map[string]any{"type": "ByteLevel"}, "model": md,
	})
	return b
}

func TestBPEMergeOrder(t *testing.T) {
	vocab := map[string]int{"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5, "aa": 6, "<unk>": 7, "aaa": 8}
	cases := []struct {
		merges [][2]string
		model  map[string]any
		text   string
		want   []int
	}{
		// Lowest rank first: b+c (rank 0) beats a+b (rank 1).
		{[][2]string{{"b", "c"}, {"a", "b"}, {"a", "bc"}}, nil, "abc", []int{5}},
		{[][2]string{{"a", "b"}, {"b", "c"}, {"a", "bc"}}, nil, "abc", []int{3, 2}},
		// Leftmost among equal ranks.
		{[][2]string{{"a", "a"}}, nil, "aaa", []int{6, 0}},
		{[][2]string{{"a", "a"}}, nil, "aaaa", []int{6, 6}},
		// Bytes not in the vocabulary are dropped without unk_token...
		{nil, nil, "azb", []int{0, 1}},
		// ...or become unk, fused or not.
		{nil, map[string]any{"unk_token": "<unk>"}, "azzb", []int{0, 7, 7, 1}},
		{nil, map[string]any{"unk_token": "<unk>", "fuse_unk": true}, "azzb", []int{0, 7, 1}},
		// ignore_merges: a word in the vocabulary is taken whole.
		{[][2]string{{"a", "a"}}, nil, "aaa", []int{6, 0}},
		{[][2]string{{"a", "a"}}, map[string]any{"ignore_merges": true}, "aaa", []int{8}},
	}
	for i, c := range cases {
		tk, err := tokenizer.Parse(tinyJSON(vocab, c.merges, c.model), "tiny.json")
		if err != nil {
			t.Fatal(err)
		}
		if got := tk.Encode(c.text); !slices.Equal(got, c.want) {
			t.Errorf("case %d: Encode(%q) = %v, want %v", i, c.text, got, c.want)
		}
	}
	// Legacy "a b" merges parse the same as pairs.
	legacy := strings.Replace(string(tinyJSON(vocab, [][2]string{{"b", "c"}, {"a", "bc"}}, nil)),
		`[["b","c"],["a","bc"]]`, `["b c","a bc"]`, 1)
	tk, err := tokenizer.Parse([]byte(legacy), "legacy.json")
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode("abc"); !reflect.DeepEqual(got, []int{5}) {
		t.Errorf("legacy merges: Encode(abc) = %v", got)
	}
}

// Encoding in parallel (large inputs) and serially gives the same ids.
func TestEncodeParallelMatchesSerial(t *testing.T) {
	tk := mini(t)
	text := wikiText2()[:300000] + "<s>tail</s>  "
	if !slices.Equal(tk.Encode(text), tokenizer.EncodeSerial(tk, text)) {
		t.Fatal("parallel and serial encodings differ")
	}
}
