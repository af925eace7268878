package tokenizer_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyquant/hyquant/runtime/tokenizer"
)

// ggufVocabFile is the tokenizer metadata of
// /work/shared/reference/nemotron-h-mini.bf16.gguf, written by llama.cpp's
// converter from models/nemotron-h-mini; testdata/README.md says how it was
// extracted.
const ggufVocabFile = "testdata/nemotron-h-mini.gguf-vocab.json"

func readGGUFVocab() (*tokenizer.Vocab, error) {
	b, err := os.ReadFile(ggufVocabFile)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var v tokenizer.Vocab
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %w", ggufVocabFile, err)
	}
	return &v, nil
}

// ggufVocab reads the fixture afresh (callers may modify it).
func ggufVocab(t testing.TB) *tokenizer.Vocab {
	t.Helper()
	v, err := readGGUFVocab()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var (
	ggufOnce sync.Once
	ggufTk   *tokenizer.Tokenizer
	ggufErr  error
)

// ggufMini is the tokenizer FromVocab builds from the fixture.
func ggufMini(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	ggufOnce.Do(func() {
		v, err := readGGUFVocab()
		if err != nil {
			ggufErr = err
			return
		}
		ggufTk, ggufErr = tokenizer.FromVocab(v, ggufVocabFile)
	})
	if ggufErr != nil {
		t.Fatal(ggufErr)
	}
	return ggufTk
}

// firstDiff reports where two id sequences first differ, with the tokens.
func firstDiff(tk *tokenizer.Tokenizer, got, want []int) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	window := func(ids []int) string {
		var s []string
		for _, id := range ids[max(i-3, 0):min(i+4, len(ids))] {
			s = append(s, fmt.Sprintf("%d %q", id, tk.Token(id)))
		}
		return strings.Join(s, ", ")
	}
	return fmt.Sprintf("lengths %d and %d, first difference at id %d:\n gguf [%s]\n   hf [%s]", len(got), len(want), i, window(got), window(want))
}

// The main check: the tokenizer built from the GGUF metadata encodes the
// whole WikiText-2 test text to the ids of the HF tokenizer.json (which
// TestWikiText2Golden ties to the transformers reference run), and decodes
// them to the same text.
func TestGGUFWikiText2Identical(t *testing.T) {
	hf, gg := mini(t), ggufMini(t)
	text := wikiText2()
	t0 := time.Now()
	want := hf.Encode(text)
	t1 := time.Now()
	got := gg.Encode(text)
	t2 := time.Now()
	t.Logf("%d bytes → %d ids; HF tokenizer %v, GGUF tokenizer %v", len(text), len(got), t1.Sub(t0), t2.Sub(t1))
	if !slices.Equal(got, want) {
		t.Fatalf("GGUF and HF tokenizers differ on WikiText-2: %s", firstDiff(gg, got, want))
	}
	if len(got) != 380381 {
		t.Errorf("%d ids, want 380381", len(got))
	}
	if !slices.Equal(tokenizer.EncodeSerial(gg, text), want) {
		t.Error("the GGUF tokenizer's serial path differs from HF")
	}
	d := gg.Decode(got)
	if d != hf.Decode(want) {
		t.Error("GGUF and HF decodes of the WikiText-2 ids differ")
	}
	if d != text {
		t.Error("GGUF Decode(Encode(text)) != text")
	}
	if !tokenizer.UsesScanner(gg) {
		t.Error("llama-bpe should run on the hand-written scanner")
	}
}

// Id by id the two tokenizers have the same vocabulary, and each token's
// own text (as HF decodes it) encodes and decodes identically.
func TestGGUFEveryToken(t *testing.T) {
	hf, gg := mini(t), ggufMini(t)
	if hf.VocabSize() != gg.VocabSize() {
		t.Fatalf("VocabSize: GGUF %d, HF %d", gg.VocabSize(), hf.VocabSize())
	}
	for id := range hf.VocabSize() {
		tok := hf.Token(id)
		if g := gg.Token(id); g != tok {
			t.Errorf("Token(%d): GGUF %q, HF %q", id, g, tok)
			continue
		}
		if g, ok := gg.TokenID(tok); !ok || g != id {
			t.Errorf("TokenID(%q): GGUF %d, %v; HF %d", tok, g, ok, id)
		}
		s := hf.Decode([]int{id})
		if g := gg.Decode([]int{id}); g != s {
			t.Errorf("Decode([%d]): GGUF %q, HF %q", id, g, s)
		}
		if a, b := gg.Encode(s), hf.Encode(s); !slices.Equal(a, b) {
			t.Errorf("Encode(%q) (token %d): GGUF %v, HF %v", s, id, a, b)
		}
	}
}

// Special tokens written in the text become their ids in both.
func TestGGUFSpecialTokensInText(t *testing.T) {
	hf, gg := mini(t), ggufMini(t)
	cases := []struct {
		text    string
		special []int // the special ids the encoding must contain, in order
	}{
		{"<s>", []int{1}},
		{"</s>", []int{2}},
		{"<unk>", []int{0}},
		{"<s>Hello</s>", []int{1, 2}},
		{"The end.</s><s>A new start", []int{2, 1}},
		{"a<s>b</s>c<unk>d", []int{1, 2, 0}},
		{"</s></s><s><s>", []int{2, 2, 1, 1}},
		{" <s> spaced </s> ", []int{1, 2}},
		{"<unk> <s<s>>", []int{0, 1}},
		{"<s >< /s></S>", nil}, // near misses stay text
		{"\n<s>\n\n</s>\n", []int{1, 2}},
		{"<</s>>", []int{2}},
	}
	for _, c := range cases {
		got, want := gg.Encode(c.text), hf.Encode(c.text)
		if !slices.Equal(got, want) {
			t.Errorf("Encode(%q): GGUF %v, HF %v", c.text, got, want)
		}
		var specials []int
		for _, id := range got {
			if id <= 2 {
				specials = append(specials, id)
			}
		}
		if !slices.Equal(specials, c.special) {
			t.Errorf("Encode(%q) = %v: special ids %v, want %v", c.text, got, specials, c.special)
		}
		if d := gg.Decode(got); d != c.text || d != hf.Decode(want) {
			t.Errorf("Decode(Encode(%q)) = %q", c.text, d)
		}
	}
}

// BOS, EOS and UNK agree; PAD is where the two differ: the GGUF names
// padding_token_id 0 (<unk>), the HF tokenizer.json has no pad token.
func TestGGUFSpecialIDs(t *testing.T) {
	hf, gg := mini(t), ggufMini(t)
	for _, c := range []struct {
		name   string
		gg, hf func() (int, bool)
	}{
		{"BOS", gg.BOS, hf.BOS},
		{"EOS", gg.EOS, hf.EOS},
		// No unknown_token_id in the GGUF: found by content, as HF.
		{"UNK", gg.UNK, hf.UNK},
	} {
		gi, gok := c.gg()
		hi, hok := c.hf()
		if gi != hi || gok != hok {
			t.Errorf("%s: GGUF %d, %v; HF %d, %v", c.name, gi, gok, hi, hok)
		}
	}
	if id, ok := gg.BOS(); id != 1 || !ok {
		t.Errorf("BOS = %d, %v; want 1", id, ok)
	}
	if id, ok := gg.EOS(); id != 2 || !ok {
		t.Errorf("EOS = %d, %v; want 2", id, ok)
	}
	if id, ok := gg.PAD(); id != 0 || !ok {
		t.Errorf("GGUF PAD = %d, %v; want 0 (padding_token_id)", id, ok)
	}
	if id, ok := hf.PAD(); ok {
		t.Errorf("HF PAD = %d; the tokenizer.json has no pad token", id)
	}
}

// The other pre names give the pipelines they stand for: the Llama-3 aliases
// the same tokenizer as llama-bpe, gpt-2 and default the one Parse builds
// for GPT-2's pre_tokenizer (ByteLevel with its regex).
func TestGGUFPreNames(t *testing.T) {
	if got := tokenizer.KnownGGUFPres(); !slices.Equal(got, []string{"default", "gpt-2", "llama-bpe", "llama-v3", "llama3"}) {
		t.Errorf("KnownGGUFPres = %q", got)
	}
	text := wikiText2()[:200000] + " 1234567 it'S \r\n\n  x  "
	base := ggufMini(t).Encode(text)
	for _, pre := range []string{"llama3", "llama-v3"} {
		v := ggufVocab(t)
		v.Pre = pre
		tk, err := tokenizer.FromVocab(v, pre)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tk.Encode(text), base) {
			t.Errorf("%s differs from llama-bpe", pre)
		}
	}
	m := miniJSON(t)
	m["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	gpt2, err := parseTree(t, m, "gpt2-pre.json")
	if err != nil {
		t.Fatal(err)
	}
	want := gpt2.Encode(text)
	if slices.Equal(want, base) {
		t.Fatal("the GPT-2 pre-tokenizer should split this text differently from Llama-3's")
	}
	for _, pre := range []string{"gpt-2", "default"} {
		v := ggufVocab(t)
		v.Pre = pre
		tk, err := tokenizer.FromVocab(v, pre)
		if err != nil {
			t.Fatal(err)
		}
		if got := tk.Encode(text); !slices.Equal(got, want) {
			t.Errorf("%s: %s", pre, firstDiff(tk, got, want))
		}
	}
}

// Token types: without types every token is normal (so "<s>" is text);
// unused ids are holes; user-defined and control tokens match literally.
func TestGGUFTokenTypes(t *testing.T) {
	hf := mini(t)
	v := ggufVocab(t)
	v.Types = nil
	tk, err := tokenizer.FromVocab(v, "untyped")
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode("<s>x"); slices.Contains(got, 1) {
		t.Errorf("with no token types, <s> should be text: %v", got)
	}

	v = ggufVocab(t)
	// The converter pads ids HF lacks as "[PADn]", type unused.
	for id := 8192; id < 8195; id++ {
		v.Tokens = append(v.Tokens, fmt.Sprintf("[PAD%d]", id))
		v.Types = append(v.Types, tokenizer.TokenUnused)
	}
	v.Tokens = append(v.Tokens, "qz", "<|x|>", "<|unk|>")
	v.Types = append(v.Types, tokenizer.TokenUserDefined, tokenizer.TokenControl, tokenizer.TokenUnknown)
	tk, err = tokenizer.FromVocab(v, "typed")
	if err != nil {
		t.Fatal(err)
	}
	if tk.VocabSize() != 8198 {
		t.Errorf("VocabSize = %d, want 8198", tk.VocabSize())
	}
	if tk.Token(8193) != "" || tk.Decode([]int{8193}) != "" {
		t.Errorf("unused id 8193: Token %q, Decode %q", tk.Token(8193), tk.Decode([]int{8193}))
	}
	if _, ok := tk.TokenID("[PAD8193]"); ok {
		t.Error("an unused token has an id")
	}
	text := "aqzb<|x|> [PAD8193]<|unk|>"
	want := slices.Concat(hf.Encode("a"), []int{8195}, hf.Encode("b"), []int{8196}, hf.Encode(" [PAD8193]"), []int{8197})
	if got := tk.Encode(text); !slices.Equal(got, want) {
		t.Errorf("Encode(%q) = %v, want %v", text, got, want)
	}
	if got := tk.Decode(tk.Encode(text)); got != text {
		t.Errorf("Decode(Encode(%q)) = %q", text, got)
	}
	if got := tk.Encode(wikiText2()[:100000]); !slices.Equal(got, hf.Encode(wikiText2()[:100000])) {
		t.Error("extra unused and added tokens changed the encoding of plain text")
	}
}

func TestGGUFMalformed(t *testing.T) {
	idOf := func(v *tokenizer.Vocab, tok string) int { return slices.Index(v.Tokens, tok) }
	cases := []struct {
		key    string // expected in the message, followed by ':'
		also   string // also expected in the message
		modify func(v *tokenizer.Vocab)
	}{
		{"tokenizer.ggml.model", `"llama"`, func(v *tokenizer.Vocab) { v.Model = "llama" }},
		{"tokenizer.ggml.model", "missing", func(v *tokenizer.Vocab) { v.Model = "" }},
		{"tokenizer.ggml.pre", `"qwen2"`, func(v *tokenizer.Vocab) { v.Pre = "qwen2" }},
		{"tokenizer.ggml.pre", "default, gpt-2, llama-bpe, llama-v3, llama3", func(v *tokenizer.Vocab) { v.Pre = "Llama-BPE" }},
		{"tokenizer.ggml.pre", "missing", func(v *tokenizer.Vocab) { v.Pre = "" }},
		{"tokenizer.ggml.tokens", "empty", func(v *tokenizer.Vocab) { v.Tokens = nil }},
		{"tokenizer.ggml.token_type", "8191 token types for 8192 tokens", func(v *tokenizer.Vocab) { v.Types = v.Types[1:] }},
		{"tokenizer.ggml.token_type", "8193 token types for 8192 tokens", func(v *tokenizer.Vocab) { v.Types = append(v.Types, 1) }},
		{"tokenizer.ggml.token_type", "8192 token types for 8193 tokens", func(v *tokenizer.Vocab) { v.Tokens = append(v.Tokens, "extra") }},
		{"tokenizer.ggml.token_type[5]", "byte", func(v *tokenizer.Vocab) { v.Types[5] = tokenizer.TokenByte }},
		{"tokenizer.ggml.token_type[5]", "type 0", func(v *tokenizer.Vocab) { v.Types[5] = 0 }},
		{"tokenizer.ggml.token_type[6]", "type 7", func(v *tokenizer.Vocab) { v.Types[6] = 7 }},
		{"tokenizer.ggml.token_type[7]", "type -1", func(v *tokenizer.Vocab) { v.Types[7] = -1 }},
		{"tokenizer.ggml.tokens[100]", "also token 50", func(v *tokenizer.Vocab) { v.Tokens[100] = v.Tokens[50] }},
		{"tokenizer.ggml.tokens[8191]", "also token 1", func(v *tokenizer.Vocab) { v.Tokens[8191] = "<s>" }},
		{"tokenizer.ggml.tokens[7]", "empty token", func(v *tokenizer.Vocab) { v.Tokens[7] = "" }},
		{"tokenizer.ggml.merges[0]", "not two tokens separated by one space", func(v *tokenizer.Vocab) { v.Merges[0] = "Ġt" }},
		{"tokenizer.ggml.merges[1]", "not two tokens separated by one space", func(v *tokenizer.Vocab) { v.Merges[1] = "Ġ  a" }},
		{"tokenizer.ggml.merges[2]", "not two tokens separated by one space", func(v *tokenizer.Vocab) { v.Merges[2] = "h e r" }},
		{"tokenizer.ggml.merges[3]", "not two tokens separated by one space", func(v *tokenizer.Vocab) { v.Merges[3] = "" }},
		{"tokenizer.ggml.merges[4]", `"no-such-token"`, func(v *tokenizer.Vocab) { v.Merges[4] = "Ġ no-such-token" }},
		{"tokenizer.ggml.merges[5]", `token ""`, func(v *tokenizer.Vocab) { v.Merges[5] = " e" }},
		{"tokenizer.ggml.merges[6]", `"Ġ<s>"`, func(v *tokenizer.Vocab) { v.Merges[6] = "Ġ <s>" }}, // the merged token is not a token
		// An unused token is no token: merges[0] is "Ġ t".
		{"tokenizer.ggml.merges[0]", `"Ġ"`, func(v *tokenizer.Vocab) { v.Types[idOf(v, "Ġ")] = tokenizer.TokenUnused }},
		{"tokenizer.ggml.bos_token_id", "8192 out of range", func(v *tokenizer.Vocab) { v.BOS = 8192 }},
		{"tokenizer.ggml.eos_token_id", "-2 out of range", func(v *tokenizer.Vocab) { v.EOS = -2 }},
		{"tokenizer.ggml.padding_token_id", "out of range", func(v *tokenizer.Vocab) { v.PAD = 1 << 40 }},
		{"tokenizer.ggml.unknown_token_id", "9999 out of range", func(v *tokenizer.Vocab) { v.UNK = 9999 }},
	}
	for _, c := range cases {
		v := ggufVocab(t)
		c.modify(v)
		tk, err := tokenizer.FromVocab(v, "bad.gguf")
		if err == nil {
			t.Errorf("%s (%s): no error", c.key, c.also)
			continue
		}
		if tk != nil {
			t.Errorf("%s: a tokenizer and an error", c.key)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "tokenizer: bad.gguf: "+c.key+": ") || !strings.Contains(msg, c.also) {
			t.Errorf("%s: error %q should name the file and the key and say %q", c.key, msg, c.also)
		}
	}
	if _, err := tokenizer.FromVocab(nil, "nil.gguf"); err == nil || !strings.Contains(err.Error(), "nil.gguf") {
		t.Errorf("FromVocab(nil) = %v", err)
	}
	// Valid edge cases: ids at the ends of the range, no merges at all.
	v := ggufVocab(t)
	v.BOS, v.EOS, v.PAD, v.UNK = 0, 8191, -1, -1
	v.Merges = nil
	tk, err := tokenizer.FromVocab(v, "edges.gguf")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := tk.BOS(); b != 0 {
		t.Errorf("BOS = %d", b)
	}
	if e, _ := tk.EOS(); e != 8191 {
		t.Errorf("EOS = %d", e)
	}
	if p, ok := tk.PAD(); ok {
		t.Errorf("PAD = %d, want none (no id, no <pad> token)", p)
	}
	// Without merges only whole-word tokens (llama-bpe sets ignore_merges)
	// and single bytes remain.
	if got, want := tk.Encode(" the"), []int{266}; !slices.Equal(got, want) {
		t.Errorf("without merges, %q = %v, want %v (ignore_merges)", " the", got, want)
	}
	if got := tk.Encode(" thezq"); len(got) != 6 {
		t.Errorf("without merges, %q should be 6 byte tokens: %v", " thezq", got)
	}
}

// Random damage to the metadata gives an error or a working tokenizer,
// never a panic.
func TestGGUFNoPanic(t *testing.T) {
	base := ggufVocab(t)
	r := rand.New(rand.NewPCG(1, 2))
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	n := 120
	if testing.Short() {
		n = 20
	}
	built := 0
	defer func() { t.Logf("%d of %d damaged vocabularies still built a tokenizer", built, n) }()
	for i := range n {
		v := *base
		v.Tokens = slices.Clone(base.Tokens)
		v.Types = slices.Clone(base.Types)
		v.Merges = slices.Clone(base.Merges)
		for range 1 + r.IntN(3) {
			if len(v.Tokens) == 0 || len(v.Types) == 0 || len(v.Merges) == 0 {
				break
			}
			switch r.IntN(9) {
			case 0:
				v.Tokens[r.IntN(len(v.Tokens))] = pick(v.Tokens) + pick([]string{"", "x", " ", "\xff"})
			case 1:
				v.Types[r.IntN(len(v.Types))] = int32(r.IntN(9) - 1)
			case 2:
				v.Merges[r.IntN(len(v.Merges))] = pick(v.Tokens) + pick([]string{" ", "", "  "}) + pick(v.Tokens)
			case 3:
				v.Tokens = v.Tokens[:r.IntN(len(v.Tokens))]
			case 4:
				v.Types = v.Types[:r.IntN(len(v.Types)+1)]
			case 5:
				v.Merges = v.Merges[:r.IntN(len(v.Merges)+1)]
			case 6:
				v.BOS = r.IntN(9000) - 10
			case 7:
				j, k := r.IntN(len(v.Merges)), r.IntN(len(v.Merges))
				v.Merges[j], v.Merges[k] = v.Merges[k], v.Merges[j]
			case 8:
				v.Types = nil
			}
		}
		tk, err := tokenizer.FromVocab(&v, fmt.Sprintf("damaged-%d", i))
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("damaged-%d: tokenizer.ggml.", i)) {
				t.Errorf("error %q does not name the file and a key", err)
			}
			continue
		}
		built++
		ids := tk.Encode("Hello <s> wörld</s> 12345\n\n\xff")
		_ = tk.Decode(ids)
	}
}
