package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// VocabFromJSON describes a tokenizer.json as GGUF tokenizer metadata, the
// way llama.cpp's converter writes it: ids 0 … vocab_size-1 (vocabSize from
// the model config; 0 means as many as the tokenizer has), model "gpt2",
// the pre-tokenizer by name, added special tokens as control tokens, other
// added tokens as user-defined, ids without a token as unused "[PAD<id>]",
// merges as "a b" by rank, and BOS/EOS/PAD/UNK ids. The file must Parse,
// and its pre-tokenizer must be one FromVocab knows by name; FromVocab of
// the result encodes every text as the file does (tested on the mini's).
func VocabFromJSON(data []byte, name string, vocabSize int) (*Vocab, error) {
	tk, err := Parse(data, name)
	if err != nil {
		return nil, err
	}
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", name, err)
	}
	var m modelJSON
	if err := json.Unmarshal(f.Model, &m); err != nil {
		return nil, loadError(name, "model", "%v", err)
	}
	pre, err := preName(name, f.PreTokenizer, m.IgnoreMerges)
	if err != nil {
		return nil, err
	}
	n := tk.VocabSize()
	if vocabSize > 0 {
		if vocabSize < n {
			return nil, loadError(name, "model.vocab", "has %d tokens, more than the config's vocab_size %d", n, vocabSize)
		}
		n = vocabSize
	}
	v := &Vocab{Model: "gpt2", Pre: pre, Tokens: make([]string, n), Types: make([]int32, n), BOS: -1, EOS: -1, PAD: -1, UNK: -1}
	for id := range v.Tokens {
		v.Tokens[id], v.Types[id] = fmt.Sprintf("[PAD%d]", id), TokenUnused
	}
	for tok, id := range m.Vocab {
		v.Tokens[id], v.Types[id] = tok, TokenNormal
	}
	for _, a := range f.AddedTokens {
		v.Tokens[a.ID] = a.Content
		v.Types[a.ID] = TokenUserDefined
		if a.Special {
			v.Types[a.ID] = TokenControl
		}
	}
	merges, err := parseMerges(name, m.Merges)
	if err != nil {
		return nil, err
	}
	v.Merges = make([]string, len(merges))
	for i, p := range merges {
		v.Merges[i] = p[0] + " " + p[1]
	}
	if id, ok := tk.BOS(); ok {
		v.BOS = id
	}
	if id, ok := tk.EOS(); ok {
		v.EOS = id
	}
	if id, ok := tk.PAD(); ok {
		v.PAD = id
	}
	if id, ok := tk.UNK(); ok {
		v.UNK = id
	}
	return v, nil
}

// preName finds the tokenizer.ggml.pre name whose pipeline is this
// pre_tokenizer (compared as normalised JSON).
func preName(name string, raw json.RawMessage, ignoreMerges bool) (string, error) {
	want, err := canonicalJSON(raw)
	if err != nil {
		return "", loadError(name, "pre_tokenizer", "%v", err)
	}
	// The names in the order llama.cpp's converter prefers them.
	for _, n := range []string{"llama-bpe", "gpt-2"} {
		p := ggufPres[n]
		got, _ := canonicalJSON(p.preTokenizer)
		if equalPreTokenizers(got, want) {
			return n, nil
		}
	}
	return "", loadError(name, "pre_tokenizer", "is not a pre-tokenizer GGUF names (known: %s): %s", strings.Join(KnownGGUFPres(), ", "), raw)
}

func canonicalJSON(raw json.RawMessage) (any, error) {
	var v any
	err := json.Unmarshal(raw, &v)
	return v, err
}

// equalPreTokenizers compares two pre_tokenizer values, ignoring the
// ByteLevel fields that do not change pre-tokenization (trim_offsets).
func equalPreTokenizers(a, b any) bool {
	strip := func(v any) any { return stripKeys(v, "trim_offsets") }
	aj, _ := json.Marshal(strip(a))
	bj, _ := json.Marshal(strip(b))
	return string(aj) == string(bj)
}

func stripKeys(v any, keys ...string) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			skip := false
			for _, s := range keys {
				skip = skip || k == s
			}
			if !skip {
				out[k] = stripKeys(e, keys...)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = stripKeys(e, keys...)
		}
		return out
	}
	return v
}
