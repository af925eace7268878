package tokenizer

import (
	"encoding/json"
	"fmt"
)

// HubJSON renders the tokenizer a Vocab describes as a Hugging Face
// tokenizer.json that Parse reads back to the tokenizer FromVocab builds
// (same ids for every text): the BPE vocabulary and merges, the control,
// unknown and user-defined tokens as added tokens, the pre-tokenizer the
// Pre name stands for, the ByteLevel decoder. It is what a checkpoint
// directory made from a GGUF file carries. The Vocab is validated first,
// with FromVocab's errors.
func (v *Vocab) HubJSON(name string) ([]byte, error) {
	if _, err := FromVocab(v, name); err != nil {
		return nil, err
	}
	pre := ggufPres[v.Pre]
	vocab := make(map[string]int, len(v.Tokens))
	var addedTokens []addedToken
	for id, tok := range v.Tokens {
		typ := TokenNormal
		if v.Types != nil {
			typ = v.Types[id]
		}
		if typ == TokenUnused {
			continue
		}
		vocab[tok] = id
		if typ != TokenNormal {
			addedTokens = append(addedTokens, addedToken{ID: id, Content: tok, Normalized: typ == TokenUserDefined, Special: typ != TokenUserDefined})
		}
	}
	merges := make([][2]string, len(v.Merges))
	for i, line := range v.Merges {
		p, ok := splitMerge(line)
		if !ok {
			return nil, fmt.Errorf("tokenizer: %s: %s[%d]: %q is not two tokens separated by one space", name, ggufMerges, i, line)
		}
		merges[i] = p
	}
	doc := map[string]any{
		"version":        "1.0",
		"truncation":     nil,
		"padding":        nil,
		"added_tokens":   addedTokens,
		"normalizer":     nil,
		"pre_tokenizer":  pre.preTokenizer,
		"post_processor": nil,
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil, "end_of_word_suffix": nil,
			"fuse_unk": false, "byte_fallback": false, "ignore_merges": pre.ignoreMerges, "vocab": vocab, "merges": merges,
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
