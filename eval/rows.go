package eval

import "strings"

// JoinRows builds the evaluation text from a raw corpus file the way the
// reference protocol does: every line, with its newline, is a row; rows made
// of white space only become empty strings; rows are joined with "\n\n".
func JoinRows(raw string) string {
	var b strings.Builder
	b.Grow(len(raw) + len(raw)/16)
	first := true
	for len(raw) > 0 {
		i := strings.IndexByte(raw, '\n')
		var line string
		if i < 0 {
			line, raw = raw, ""
		} else {
			line, raw = raw[:i+1], raw[i+1:]
		}
		if !first {
			b.WriteString("\n\n")
		}
		first = false
		if strings.TrimSpace(line) != "" {
			b.WriteString(line)
		}
	}
	return b.String()
}
