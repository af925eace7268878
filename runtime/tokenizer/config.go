package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// fileJSON is the part of tokenizer.json this package reads.
type fileJSON struct {
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

type modelJSON struct {
	Type                    *string         `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Vocab                   map[string]int  `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
}

type preTokJSON struct {
	Type           string            `json:"type"`
	PreTokenizers  []json.RawMessage `json:"pretokenizers"`
	Pattern        json.RawMessage   `json:"pattern"`
	Behavior       string            `json:"behavior"`
	Invert         bool              `json:"invert"`
	AddPrefixSpace bool              `json:"add_prefix_space"`
	UseRegex       *bool             `json:"use_regex"`
}

type decoderJSON struct {
	Type string `json:"type"`
}

// loadError formats an error about one field of the file.
func loadError(name, field, format string, args ...any) error {
	return fmt.Errorf("tokenizer: %s: %s: %s", name, field, fmt.Sprintf(format, args...))
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// jsonType reads the "type" field of an object, for error messages.
func jsonType(raw json.RawMessage) string {
	var v struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(raw, &v) != nil || v.Type == "" {
		return strings.TrimSpace(string(raw))
	}
	return v.Type
}

// parseMerges accepts both serialisations: ["a b", ...] (older files) and
// [["a", "b"], ...] (tokenizers >= 0.20).
func parseMerges(name string, raw json.RawMessage) ([][2]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, loadError(name, "model.merges", "not a list: %v", err)
	}
	out := make([][2]string, len(items))
	for i, it := range items {
		t := bytes.TrimSpace(it)
		if len(t) > 0 && t[0] == '"' {
			var line string
			if err := json.Unmarshal(t, &line); err != nil {
				return nil, loadError(name, fmt.Sprintf("model.merges[%d]", i), "%v", err)
			}
			p, ok := splitMerge(line)
			if !ok {
				return nil, loadError(name, fmt.Sprintf("model.merges[%d]", i), "%q is not two tokens separated by one space", line)
			}
			out[i] = p
			continue
		}
		var pair []string
		if err := json.Unmarshal(t, &pair); err != nil || len(pair) != 2 {
			return nil, loadError(name, fmt.Sprintf("model.merges[%d]", i), "want a string \"a b\" or a pair [\"a\", \"b\"], got %s", t)
		}
		out[i] = [2]string{pair[0], pair[1]}
	}
	return out, nil
}

// splitMerge splits a merge written "a b", as HF does (split on ' ', exactly
// two parts).
func splitMerge(line string) ([2]string, bool) {
	a, b, ok := strings.Cut(line, " ")
	if !ok || strings.Contains(b, " ") {
		return [2]string{}, false
	}
	return [2]string{a, b}, true
}

// buildPreTokenizer flattens the pre_tokenizer into split steps. A ByteLevel
// pre-tokenizer must come last (steps after it would see byte-level
// characters, which this package does not model).
func buildPreTokenizer(name string, raw json.RawMessage) ([]*splitStep, error) {
	if isNull(raw) {
		return nil, loadError(name, "pre_tokenizer", "null is not supported: a byte-level BPE needs a ByteLevel pre-tokenizer")
	}
	var flat []preTokJSON
	var fields []string
	var walk func(raw json.RawMessage, field string) error
	walk = func(raw json.RawMessage, field string) error {
		var p preTokJSON
		if err := json.Unmarshal(raw, &p); err != nil {
			return loadError(name, field, "%v", err)
		}
		if p.Type == "Sequence" {
			for i, sub := range p.PreTokenizers {
				if err := walk(sub, fmt.Sprintf("%s.pretokenizers[%d]", field, i)); err != nil {
					return err
				}
			}
			return nil
		}
		flat = append(flat, p)
		fields = append(fields, field)
		return nil
	}
	if err := walk(raw, "pre_tokenizer"); err != nil {
		return nil, err
	}
	var steps []*splitStep
	sawByteLevel := false
	for i, p := range flat {
		field := fields[i]
		if sawByteLevel {
			return nil, loadError(name, field, "a %s pre-tokenizer after ByteLevel is not supported (ByteLevel must be last)", p.Type)
		}
		switch p.Type {
		case "Split":
			st, err := buildSplit(name, field, p)
			if err != nil {
				return nil, err
			}
			steps = append(steps, st)
		case "ByteLevel":
			sawByteLevel = true
			if p.AddPrefixSpace {
				return nil, loadError(name, field+".add_prefix_space", "true is not supported")
			}
			// use_regex defaults to true in HF.
			if p.UseRegex == nil || *p.UseRegex {
				steps = append(steps, &splitStep{m: knownScanners[patternGPT2], behavior: behaviorIsolated})
			}
		default:
			return nil, loadError(name, field+".type", "pre-tokenizer type %q is not supported (supported: Sequence, Split, ByteLevel)", p.Type)
		}
	}
	if !sawByteLevel {
		return nil, loadError(name, "pre_tokenizer", "no ByteLevel pre-tokenizer: only byte-level BPE is supported")
	}
	return steps, nil
}

func buildSplit(name, field string, p preTokJSON) (*splitStep, error) {
	b, ok := behaviorNames[p.Behavior]
	if !ok {
		return nil, loadError(name, field+".behavior", "unknown split behavior %q", p.Behavior)
	}
	var pat struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	}
	if err := json.Unmarshal(p.Pattern, &pat); err != nil {
		return nil, loadError(name, field+".pattern", "%v", err)
	}
	st := &splitStep{behavior: b, invert: p.Invert}
	switch {
	case pat.Regex != nil:
		if sc, ok := knownScanners[*pat.Regex]; ok {
			st.m = sc
		} else {
			m, err := newRegexMatcher(*pat.Regex)
			if err != nil {
				return nil, loadError(name, field+".pattern.Regex", "%v", err)
			}
			st.m = m
		}
	case pat.String != nil:
		st.m = literalMatcher{*pat.String}
	default:
		return nil, loadError(name, field+".pattern", "want {\"Regex\": ...} or {\"String\": ...}, got %s", p.Pattern)
	}
	return st, nil
}
