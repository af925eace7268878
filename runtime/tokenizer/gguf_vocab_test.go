package tokenizer_test

import (
	"os"
	"reflect"
	"slices"
	"testing"

	"github.com/hyquant/hyquant/runtime/tokenizer"
)

// The mini's tokenizer.json described as GGUF metadata is exactly what
// llama.cpp's converter wrote into the bf16 GGUF (the committed fixture),
// and FromVocab of it encodes the test text as the file does.
func TestVocabFromJSONEqualsConverter(t *testing.T) {
	data, err := os.ReadFile("../../models/nemotron-h-mini/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tokenizer.VocabFromJSON(data, "tokenizer.json", 8192)
	if err != nil {
		t.Fatal(err)
	}
	want := ggufVocab(t)
	if got.Model != want.Model || got.Pre != want.Pre {
		t.Errorf("model/pre %q/%q, converter %q/%q", got.Model, got.Pre, want.Model, want.Pre)
	}
	if !slices.Equal(got.Tokens, want.Tokens) {
		t.Error("tokens differ from the converter's")
	}
	if !slices.Equal(got.Types, want.Types) {
		t.Error("token types differ from the converter's")
	}
	if !slices.Equal(got.Merges, want.Merges) {
		t.Error("merges differ from the converter's")
	}
	if got.BOS != want.BOS || got.EOS != want.EOS {
		t.Errorf("bos/eos %d/%d, converter %d/%d", got.BOS, got.EOS, want.BOS, want.EOS)
	}
	tk, err := tokenizer.FromVocab(got, "x")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tk.Encode(wikiText2()[:200000]), mini(t).Encode(wikiText2()[:200000])) {
		t.Error("FromVocab(VocabFromJSON) encodes differently from tokenizer.json")
	}
}
