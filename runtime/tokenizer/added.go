package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// addedToken is one entry of tokenizer.json's added_tokens.
type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// trie finds added tokens in text with aho-corasick's LeftmostLongest
// semantics (the matcher HF's AddedVocabulary builds): the match starting
// leftmost wins, the longest among those; the search resumes after it.
type trie struct {
	nodes []trieNode
	first [256]bool // bytes that start some token
}

type trieNode struct {
	next  map[byte]int32
	token int32 // index into the added token list, or -1
}

func newTrie() *trie {
	return &trie{nodes: []trieNode{{token: -1}}}
}

func (t *trie) insert(s string, tok int32) {
	if s == "" {
		return // HF never matches an empty added token
	}
	t.first[s[0]] = true
	n := int32(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		nx, ok := t.nodes[n].next[c]
		if !ok {
			if t.nodes[n].next == nil {
				t.nodes[n].next = map[byte]int32{}
			}
			nx = int32(len(t.nodes))
			t.nodes[n].next[c] = nx
			t.nodes = append(t.nodes, trieNode{token: -1})
		}
		n = nx
	}
	if t.nodes[n].token < 0 {
		t.nodes[n].token = tok
	}
}

func (t *trie) empty() bool { return len(t.nodes) == 1 }

// longestAt returns the token index and end of the longest token starting at
// position i, or -1.
func (t *trie) longestAt(s string, i int) (tok int32, end int) {
	tok, end = -1, -1
	n := int32(0)
	for j := i; j < len(s); j++ {
		nx, ok := t.nodes[n].next[s[j]]
		if !ok {
			break
		}
		n = nx
		if t.nodes[n].token >= 0 {
			tok, end = t.nodes[n].token, j+1
		}
	}
	return tok, end
}

// segment is a piece of the input: either an added token (tok >= 0, an index
// into Tokenizer.added) or text still to be pre-tokenized (tok < 0).
type segment struct {
	start, end int
	tok        int32
}

// findMatches is HF's AddedVocabulary::find_matches over sentence (which
// starts at offset base of the whole input): leftmost-longest matches,
// single_word / lstrip / rstrip applied exactly as there.
func (tk *Tokenizer) findMatches(t *trie, sentence string, base int, out []segment) []segment {
	if t.empty() {
		return append(out, segment{base, base + len(sentence), -1})
	}
	startOffset := 0
	for i := 0; i < len(sentence); {
		if !t.first[sentence[i]] {
			i++
			continue
		}
		ti, stop := t.longestAt(sentence, i)
		if ti < 0 {
			i++
			continue
		}
		start := i
		i = stop // the matcher resumes after the match, kept or not
		at := &tk.added[ti]
		if at.SingleWord {
			startSpace := start == 0 || !endsWithWord(sentence[:start])
			stopSpace := stop == len(sentence) || !startsWithWord(sentence[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if at.LStrip {
			start = max(spaceLeftmostAtEnd(sentence[:start]), startOffset)
		}
		if at.RStrip {
			stop += spaceRightmostAtStart(sentence[stop:])
		}
		if startOffset < start {
			out = append(out, segment{base + startOffset, base + start, -1})
		}
		out = append(out, segment{base + start, base + stop, ti})
		startOffset = stop
	}
	if startOffset != len(sentence) {
		out = append(out, segment{base + startOffset, base + len(sentence), -1})
	}
	return out
}

// isWordChar is the Rust regex crate's Unicode \w: Alphabetic, M, Nd, Pc,
// Join_Control.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.Is(unicode.Nl, r) || unicode.Is(unicode.Other_Alphabetic, r) ||
		unicode.IsMark(r) || unicode.Is(unicode.Nd, r) || unicode.Is(unicode.Pc, r) ||
		unicode.Is(unicode.Join_Control, r)
}

// isRustSpace is the Rust regex crate's Unicode \s (White_Space).
func isRustSpace(r rune) bool { return unicode.Is(unicode.White_Space, r) }

func endsWithWord(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordChar(r)
}

func startsWithWord(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordChar(r)
}

// spaceLeftmostAtEnd is the start of the trailing whitespace of s.
func spaceLeftmostAtEnd(s string) int {
	i := len(s)
	for i > 0 {
		r, n := utf8.DecodeLastRuneInString(s[:i])
		if !isRustSpace(r) {
			break
		}
		i -= n
	}
	return i
}

// spaceRightmostAtStart is the length of the leading whitespace of s.
func spaceRightmostAtStart(s string) int {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isRustSpace(r) {
			break
		}
		i += n
	}
	return i
}

// splitAdded runs AddedVocabulary::extract_and_normalize for a null
// normalizer: first the tokens with normalized=false are extracted from the
// text, then those with normalized=true from the remaining pieces. Empty
// pieces are dropped, as PreTokenizedString::split does.
func (tk *Tokenizer) splitAdded(text string) []segment {
	segs := tk.findMatches(tk.rawTrie, text, 0, make([]segment, 0, 4))
	if !tk.normTrie.empty() {
		var out []segment
		for _, sg := range segs {
			if sg.tok >= 0 {
				out = append(out, sg)
				continue
			}
			out = tk.findMatches(tk.normTrie, text[sg.start:sg.end], sg.start, out)
		}
		segs = out
	}
	out := segs[:0]
	for _, sg := range segs {
		if sg.end > sg.start {
			out = append(out, sg)
		}
	}
	return out
}
