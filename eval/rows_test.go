package eval

import (
	"testing"
	"unicode/utf8"

	"github.com/hyquant/hyquant/datasets"
)

func TestJoinRowsSmall(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"a\n", "a\n"},
		{"a\nb\n", "a\n\n\nb\n"},
		{" \na\n", "\n\na\n"},
		{"a\n \t\nb", "a\n\n\n\n\nb"},
	}
	for _, c := range cases {
		if got := JoinRows(c.in); got != c.want {
			t.Errorf("JoinRows(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// The reference protocol's text has 1,294,336 characters (golden.json).
func TestJoinRowsWikiText2(t *testing.T) {
	text := JoinRows(datasets.MustEmbedded(datasets.WikiText2Test).Body)
	if n := utf8.RuneCountInString(text); n != 1294336 {
		t.Fatalf("WikiText-2 test text has %d characters, want 1294336", n)
	}
}
