package tokenizer

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
)

// matcher finds the non-overlapping matches of a Split pattern, in order,
// with the iteration rules of the onig crate's find_iter that HF tokenizers
// uses (an empty match right after the previous match is skipped, the
// search then resumes one character later). Offsets are bytes of s.
type matcher interface {
	matches(s string, emit func(start, end int))
}

// regexMatcher is the general path: any pattern, run by regexp2, a
// backtracking engine with Oniguruma's features used by tokenizer files
// (lookaround, \p{..} classes, inline flags). Its \s is Unicode White_Space,
// \p{L}/\p{N} are the Unicode general categories and (?i) uses Unicode
// simple case folding, as in Oniguruma.
type regexMatcher struct {
	re *regexp2.Regexp
}

func newRegexMatcher(pattern string) (*regexMatcher, error) {
	re, err := regexp2.Compile(pattern, regexp2.None, regexp2.OptionMaxBacktrackingStackSize(-1))
	if err != nil {
		return nil, err
	}
	return &regexMatcher{re: re}, nil
}

func (m *regexMatcher) matches(s string, emit func(start, end int)) {
	if s == "" {
		return
	}
	runes := []rune(s)
	// byteOff[i] is the byte offset of rune i; invalid UTF-8 bytes become
	// one U+FFFD rune each, both in []rune(s) and here.
	var byteOff []int
	if len(runes) != len(s) {
		byteOff = make([]int, 0, len(runes)+1)
		for i := 0; i < len(s); {
			byteOff = append(byteOff, i)
			_, n := utf8.DecodeRuneInString(s[i:])
			i += n
		}
		byteOff = append(byteOff, len(s))
	}
	toByte := func(r int) int {
		if byteOff == nil {
			return r
		}
		return byteOff[r]
	}
	prevEnd := -1
	err := m.re.FindRunesMatches(runes, 0, func(v regexp2.MatchView) bool {
		idx, n, _ := v.GroupRange(0)
		if n == 0 && idx == prevEnd {
			return true
		}
		emit(toByte(idx), toByte(idx+n))
		prevEnd = idx + n
		return true
	})
	if err != nil {
		// Only a timeout or a stack limit can fail a match; neither is set.
		panic(fmt.Sprintf("tokenizer: regex %q failed: %v", m.re.String(), err))
	}
}

// literalMatcher is a Split with a String pattern: the literal's
// non-overlapping occurrences.
type literalMatcher struct{ lit string }

func (m literalMatcher) matches(s string, emit func(start, end int)) {
	if m.lit == "" {
		return
	}
	for i := 0; ; {
		j := strings.Index(s[i:], m.lit)
		if j < 0 {
			return
		}
		emit(i+j, i+j+len(m.lit))
		i += j + len(m.lit)
	}
}

// splitBehavior is HF's SplitDelimiterBehavior.
type splitBehavior int

const (
	behaviorRemoved splitBehavior = iota
	behaviorIsolated
	behaviorMergedWithPrevious
	behaviorMergedWithNext
	behaviorContiguous
)

var behaviorNames = map[string]splitBehavior{
	"Removed":            behaviorRemoved,
	"Isolated":           behaviorIsolated,
	"MergedWithPrevious": behaviorMergedWithPrevious,
	"MergedWithNext":     behaviorMergedWithNext,
	"Contiguous":         behaviorContiguous,
}

// splitStep is one Split pre-tokenizer (or ByteLevel with use_regex, which
// is a Split with GPT-2's pattern and Isolated behavior).
type splitStep struct {
	m        matcher
	behavior splitBehavior
	invert   bool
}

type piece struct {
	start, end int
	match      bool
}

// split calls emit with the pieces of s this step produces, in order,
// dropping empty ones (PreTokenizedString::split drops them).
func (st *splitStep) split(s string, emit func(start, end int)) {
	if s == "" {
		return
	}
	if st.behavior == behaviorIsolated {
		// Matches and the gaps between them, each its own piece.
		prev := 0
		st.m.matches(s, func(a, b int) {
			if prev < a {
				emit(prev, a)
			}
			if a < b {
				emit(a, b)
			}
			prev = b
		})
		if prev < len(s) {
			emit(prev, len(s))
		}
		return
	}
	// Pattern::find_matches: matches and gaps, flagged.
	var ps []piece
	prev := 0
	st.m.matches(s, func(a, b int) {
		if prev != a {
			ps = append(ps, piece{prev, a, false})
		}
		ps = append(ps, piece{a, b, true})
		prev = b
	})
	if prev != len(s) {
		ps = append(ps, piece{prev, len(s), false})
	}
	if st.invert {
		for i := range ps {
			ps[i].match = !ps[i].match
		}
	}
	// NormalizedString::split's behaviors; the flag then means "remove".
	var out []piece
	switch st.behavior {
	case behaviorRemoved:
		out = ps
	case behaviorContiguous:
		prevMatch := false
		for _, p := range ps {
			if p.match == prevMatch && len(out) > 0 {
				out[len(out)-1].end = p.end
			} else {
				out = append(out, piece{p.start, p.end, false})
			}
			prevMatch = p.match
		}
	case behaviorMergedWithPrevious:
		prevMatch := false
		for _, p := range ps {
			if p.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].end = p.end
			} else {
				out = append(out, piece{p.start, p.end, false})
			}
			prevMatch = p.match
		}
	case behaviorMergedWithNext:
		prevMatch := false
		for i := len(ps) - 1; i >= 0; i-- {
			p := ps[i]
			if p.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].start = p.start
			} else {
				out = append(out, piece{p.start, p.end, false})
			}
			prevMatch = p.match
		}
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	for _, p := range out {
		if !p.match && p.end > p.start {
			emit(p.start, p.end)
		}
	}
}
