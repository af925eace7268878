package tokenizer_test

import (
	"slices"
	"testing"

	"github.com/hyquant/hyquant/runtime/tokenizer"
)

// The tokenizer.json rendered from the GGUF metadata parses back to a
// tokenizer that encodes the whole test text, and text with special
// tokens, to the HF tokenizer.json's ids.
func TestVocabHubJSONRoundTrip(t *testing.T) {
	v := ggufVocab(t)
	js, err := v.HubJSON("mini.gguf")
	if err != nil {
		t.Fatal(err)
	}
	back, err := tokenizer.Parse(js, "HubJSON")
	if err != nil {
		t.Fatal(err)
	}
	hf := mini(t)
	for _, text := range []string{wikiText2(), "a <s> b</s><unk> c\n\n = x = \n"} {
		if got, want := back.Encode(text), hf.Encode(text); !slices.Equal(got, want) {
			t.Fatalf("tokenizer.json from GGUF metadata differs from HF: %s", firstDiff(back, got, want))
		}
	}
	if back.VocabSize() != hf.VocabSize() {
		t.Errorf("vocab size %d, HF %d", back.VocabSize(), hf.VocabSize())
	}
	bad := *v
	bad.Pre = "qwen2"
	if _, err := bad.HubJSON("x.gguf"); err == nil {
		t.Error("an unsupported pre-tokenizer rendered")
	}
}
