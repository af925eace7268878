// Package table renders small tables for terminals (aligned columns) and
// for Markdown reports, from the same rows.
package table

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Table is a header and rows of cells. Columns whose cells all look numeric
// are right-aligned in text output.
type Table struct {
	Header []string
	Rows   [][]string
	// Rules lists row indices before which a separator line is drawn.
	Rules []int
}

// New starts a table with a header.
func New(header ...string) *Table { return &Table{Header: header} }

// Row appends a row; values are formatted with %v.
func (t *Table) Row(cells ...any) {
	row := make([]string, len(cells))
	for i, c := range cells {
		row[i] = fmt.Sprint(c)
	}
	t.Rows = append(t.Rows, row)
}

// Rule draws a separator before the next row.
func (t *Table) Rule() { t.Rules = append(t.Rules, len(t.Rows)) }

func (t *Table) widths() ([]int, []bool) {
	n := len(t.Header)
	w := make([]int, n)
	numeric := make([]bool, n)
	for i, h := range t.Header {
		w[i] = utf8.RuneCountInString(h)
		numeric[i] = true
	}
	for _, r := range t.Rows {
		for i := 0; i < n && i < len(r); i++ {
			if l := utf8.RuneCountInString(r[i]); l > w[i] {
				w[i] = l
			}
			if r[i] != "" && !looksNumeric(r[i]) {
				numeric[i] = false
			}
		}
	}
	return w, numeric
}

func looksNumeric(s string) bool {
	s = strings.TrimLeft(strings.TrimSpace(s), "<>~≈")
	if s == "" || s == "-" {
		return true
	}
	c := s[0]
	return (c >= '0' && c <= '9') || ((c == '-' || c == '+' || c == '.') && len(s) > 1 && s[1] >= '0' && s[1] <= '9')
}

// Render writes the table with aligned columns.
func (t *Table) Render(w io.Writer) {
	widths, numeric := t.widths()
	line := func(cells []string) {
		var b strings.Builder
		for i := range widths {
			c := ""
			if i < len(cells) {
				c = cells[i]
			}
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if numeric[i] && i > 0 {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	rule := func() {
		total := 0
		for _, x := range widths {
			total += x
		}
		fmt.Fprintln(w, strings.Repeat("-", total+2*(len(widths)-1)))
	}
	line(t.Header)
	rule()
	ri := 0
	for i, r := range t.Rows {
		for ri < len(t.Rules) && t.Rules[ri] == i {
			rule()
			ri++
		}
		line(r)
	}
}

// Markdown writes the table as GitHub-flavoured Markdown.
func (t *Table) Markdown(w io.Writer) {
	_, numeric := t.widths()
	fmt.Fprintln(w, "| "+strings.Join(escape(t.Header), " | ")+" |")
	seps := make([]string, len(t.Header))
	for i := range seps {
		seps[i] = "---"
		if numeric[i] && i > 0 {
			seps[i] = "---:"
		}
	}
	fmt.Fprintln(w, "|"+strings.Join(seps, "|")+"|")
	for _, r := range t.Rows {
		fmt.Fprintln(w, "| "+strings.Join(escape(r), " | ")+" |")
	}
}

func escape(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	return out
}
