package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Known split patterns that the hand-written scanner implements. They are
// recognised by exact string equality with the pattern in tokenizer.json;
// any other pattern goes through regexp2. TestScannerMatchesRegex and
// FuzzScannerMatchesRegex check the scanner against regexp2 for each.
const (
	// patternLlama3 is the cl100k / Llama-3 / Nemotron-H split pattern.
	patternLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// patternQwen2 is patternLlama3 with single-digit numbers.
	patternQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// patternGPT2 is GPT-2's pattern, also what a ByteLevel pre-tokenizer
	// with use_regex=true applies.
	patternGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
)

// scanner is a hand-written matcher for the GPT-2 / cl100k pattern family.
// Each of those patterns matches at every position (its alternatives cover
// every character), so matches tile the text and the scanner only has to
// compute where the match starting at a position ends.
type scanner struct {
	foldContractions bool // (?i:'s|...) rather than 's|...
	anyLetterPrefix  bool // [^\r\n\p{L}\p{N}]?\p{L}+ rather than ' ?\p{L}+'
	maxDigits        int  // \p{N}{1,maxDigits}; 0 means \p{N}+
	spaceDigits      bool // ' ?\p{N}+'
	punctNewlines    bool // ' ?[^\s\p{L}\p{N}]+[\r\n]*' rather than without [\r\n]*
	newlineRun       bool // the \s*[\r\n]+ alternative
}

var knownScanners = map[string]*scanner{
	patternLlama3: {foldContractions: true, anyLetterPrefix: true, maxDigits: 3, punctNewlines: true, newlineRun: true},
	patternQwen2:  {foldContractions: true, anyLetterPrefix: true, maxDigits: 1, punctNewlines: true, newlineRun: true},
	patternGPT2:   {spaceDigits: true},
}

// Character classes as the regex engines see them: \p{L} and \p{N} are the
// Unicode general categories L and N, \s is White_Space (U+0009..U+000D,
// U+0020, U+0085, U+00A0 and the Zs/Zl/Zp characters). The three are
// disjoint; everything else is "other".
const (
	clsOther = iota
	clsLetter
	clsNumber
	clsSpace
)

var asciiClass [utf8.RuneSelf]uint8

func init() {
	for r := rune(0); r < utf8.RuneSelf; r++ {
		asciiClass[r] = uint8(classSlow(r))
	}
}

func classSlow(r rune) int {
	switch {
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	case unicode.IsSpace(r):
		return clsSpace
	}
	return clsOther
}

// at decodes the rune at byte i of s and its class. Invalid UTF-8 decodes as
// U+FFFD of width 1, which is what []rune(s) gives the regex path.
func at(s string, i int) (r rune, n int, cls int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return rune(c), 1, int(asciiClass[c])
	}
	r, n = utf8.DecodeRuneInString(s[i:])
	return r, n, classSlow(r)
}

func classAt(s string, i int) int {
	c := s[i]
	if c < utf8.RuneSelf {
		return int(asciiClass[c])
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return classSlow(r)
}

// runOf returns the end of the run of class cls starting at i.
func runOf(s string, i, cls int) int {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if int(asciiClass[c]) != cls {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if classSlow(r) != cls {
			return i
		}
		i += n
	}
	return i
}

func (sc *scanner) matches(s string, emit func(start, end int)) {
	for p := 0; p < len(s); {
		e := sc.next(s, p)
		emit(p, e)
		p = e
	}
}

// foldEq reports whether r matches the ASCII lower-case letter want, under
// Unicode simple case folding when fold is set ('s' also matches 'S' and
// U+017F LATIN SMALL LETTER LONG S; 'k' would match U+212A KELVIN SIGN).
func foldEq(r, want rune, fold bool) bool {
	if r == want {
		return true
	}
	if !fold {
		return false
	}
	for f := unicode.SimpleFold(want); f != want; f = unicode.SimpleFold(f) {
		if r == f {
			return true
		}
	}
	return false
}

// contraction returns the end of 's|'t|'re|'ve|'m|'ll|'d matched after the
// apostrophe, which ends at i; 0 if none matches.
func (sc *scanner) contraction(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	r1, n1, _ := at(s, i)
	f := sc.foldContractions
	for _, c := range [...]rune{'s', 't', 'm', 'd'} {
		if foldEq(r1, c, f) {
			return i + n1
		}
	}
	// 're, 've, 'll: two letters. (The alternation order of the pattern
	// does not matter: no alternative is a prefix of another.)
	var second rune
	switch {
	case foldEq(r1, 'r', f), foldEq(r1, 'v', f):
		second = 'e'
	case foldEq(r1, 'l', f):
		second = 'l'
	default:
		return 0
	}
	j := i + n1
	if j >= len(s) {
		return 0
	}
	r2, n2, _ := at(s, j)
	if foldEq(r2, second, f) {
		return j + n2
	}
	return 0
}

// next returns the end of the match that starts at p (p < len(s)), trying
// the pattern's alternatives in order with backtracking semantics.
func (sc *scanner) next(s string, p int) int {
	r, n, cls := at(s, p)
	q := p + n
	// 's|'t|'re|'ve|'m|'ll|'d
	if r == '\'' {
		if e := sc.contraction(s, q); e > 0 {
			return e
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+   or   ' ?\p{L}+'
	if cls == clsLetter {
		return runOf(s, q, clsLetter)
	}
	prefixOK := r == ' '
	if sc.anyLetterPrefix {
		prefixOK = cls != clsNumber && r != '\r' && r != '\n'
	}
	if prefixOK && q < len(s) && classAt(s, q) == clsLetter {
		return runOf(s, q, clsLetter)
	}
	// \p{N}{1,k}   or   ' ?\p{N}+'
	if cls == clsNumber {
		return sc.digits(s, p)
	}
	if sc.spaceDigits && r == ' ' && q < len(s) && classAt(s, q) == clsNumber {
		return sc.digits(s, q)
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	start := -1
	if cls == clsOther {
		start = p
	} else if r == ' ' && q < len(s) && classAt(s, q) == clsOther {
		start = q
	}
	if start >= 0 {
		e := runOf(s, start, clsOther)
		if sc.punctNewlines {
			for e < len(s) && (s[e] == '\r' || s[e] == '\n') {
				e++
			}
		}
		return e
	}
	// Only whitespace is left (cls == clsSpace).
	// Scan the whitespace run: its end, the start of its last character,
	// its length in characters, and the end of its last \r or \n.
	end, last, count, lastNL := p, p, 0, -1
	for end < len(s) {
		r, n, c := at(s, end)
		if c != clsSpace {
			break
		}
		if r == '\r' || r == '\n' {
			lastNL = end + n
		}
		last = end
		end += n
		count++
	}
	// \s*[\r\n]+ : \s* backs off to the last newline of the run.
	if sc.newlineRun && lastNL >= 0 {
		return lastNL
	}
	// \s+(?!\S) : the whole run at the end of the text, else the run less
	// its last character (which is followed by a non-space).
	if end == len(s) {
		return end
	}
	if count >= 2 {
		return last
	}
	// \s+
	return end
}

func (sc *scanner) digits(s string, i int) int {
	if sc.maxDigits == 0 {
		return runOf(s, i, clsNumber)
	}
	for k := 0; k < sc.maxDigits && i < len(s); k++ {
		_, n, c := at(s, i)
		if c != clsNumber {
			break
		}
		i += n
	}
	return i
}
