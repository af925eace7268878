package reports

import (
	"strconv"
	"strings"
	"unicode"
)

// Names in report.md (runs, plans, the experiment, the model, texts) come
// from results.json, which anyone may have edited: they are rendered so
// that no name can end a code span, break a table row or a line, or add a
// command to the reproduce section.

// code renders s as a Markdown inline code span nothing in s can break:
// non-printing characters (newlines included) are shown as Go escapes, and
// the fence is one backtick longer than the longest run of backticks in s,
// padded with a space when s starts or ends with one (CommonMark). Tables
// escape the pipes.
func code(s string) string {
	s = printable(s)
	longest, cur := 0, 0
	for _, r := range s {
		if r == '`' {
			cur++
			longest = max(longest, cur)
		} else {
			cur = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// printable replaces the characters of s that are not printable (control
// characters, line and paragraph separators) with their Go escapes, so s
// stays on one line of whatever it is written into.
func printable(s string) string {
	bad := func(r rune) bool { return r != ' ' && !unicode.IsPrint(r) }
	if strings.IndexFunc(s, bad) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if !bad(r) {
			b.WriteRune(r)
			continue
		}
		q := strconv.QuoteRune(r)
		b.WriteString(q[1 : len(q)-1])
	}
	return b.String()
}

// plainFileName reports whether a run name can be used as a file name in a
// suggested command the way the runner uses it (plans/<run>.yaml): the
// rule experiment configs enforce, which a hand-edited results.json may
// break.
func plainFileName(s string) bool {
	return s != "" && s == printable(s) && !strings.ContainsAny(s, `/\ `) && !strings.HasPrefix(s, ".")
}
