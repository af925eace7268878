package tokenizer

import (
	"encoding/json"
	"sync"
)

// Hooks for the external tests.

// KnownPatterns are the split patterns the hand-written scanner implements.
var KnownPatterns = []string{patternLlama3, patternQwen2, patternGPT2}

// LossyUTF8 exposes lossyUTF8.
var LossyUTF8 = lossyUTF8

// ScanPieces splits s with the hand-written scanner for pattern.
func ScanPieces(pattern, s string) []string {
	return collect(knownScanners[pattern], s)
}

// RegexPieces splits s with regexp2 running pattern, as for an unknown
// pattern.
func RegexPieces(pattern, s string) []string {
	v, ok := regexCache.Load(pattern)
	if !ok {
		m, err := newRegexMatcher(pattern)
		if err != nil {
			panic(err)
		}
		v, _ = regexCache.LoadOrStore(pattern, m)
	}
	return collect(v.(*regexMatcher), s)
}

var regexCache sync.Map

func collect(m matcher, s string) []string {
	var out []string
	prev := 0
	m.matches(s, func(a, b int) {
		if prev < a {
			out = append(out, s[prev:a]) // a gap (never happens for these patterns)
		}
		out = append(out, s[a:b])
		prev = b
	})
	if prev < len(s) {
		out = append(out, s[prev:])
	}
	return out
}

// SplitWith runs one Split pre-tokenizer given as its tokenizer.json object.
func SplitWith(splitJSON, s string) ([]string, error) {
	var p preTokJSON
	if err := json.Unmarshal([]byte(splitJSON), &p); err != nil {
		return nil, err
	}
	st, err := buildSplit("test", "pre_tokenizer", p)
	if err != nil {
		return nil, err
	}
	var out []string
	st.split(s, func(a, b int) { out = append(out, s[a:b]) })
	return out, nil
}

// WithRegexPath returns a copy of tk whose split steps all run on regexp2,
// even for patterns the scanner knows.
func WithRegexPath(tk *Tokenizer) *Tokenizer {
	c := *tk
	c.steps = nil
	for _, st := range tk.steps {
		cp := *st
		if _, ok := st.m.(*scanner); ok {
			for pat, sc := range knownScanners {
				if sc == st.m {
					m, err := newRegexMatcher(pat)
					if err != nil {
						panic(err)
					}
					cp.m = m
				}
			}
		}
		c.steps = append(c.steps, &cp)
	}
	return &c
}

// UsesScanner reports whether every split step of tk runs on the scanner.
func UsesScanner(tk *Tokenizer) bool {
	for _, st := range tk.steps {
		if _, ok := st.m.(*scanner); !ok {
			return false
		}
	}
	return len(tk.steps) > 0
}

// EncodeSerial encodes on one goroutine whatever the input size.
func EncodeSerial(tk *Tokenizer, text string) []int {
	return tk.encodeSerial(text, tk.splitAdded(text))
}
