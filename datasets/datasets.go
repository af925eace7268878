// Package datasets ships the evaluation and calibration texts inside the
// binary and resolves a text by name or by path. See README.md in this
// folder for the sources and licences.
package datasets

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"sort"
	"unicode/utf8"
)

//go:embed wikitext-2-raw/wiki.test.raw
var wikiText2Test string

//go:embed calibration/public-domain-heldout.txt
var publicDomainHeldout string

//go:embed calibration/wikitext-103-valid-tokens.txt
var wikiText103Valid string

// Names of the embedded texts.
const (
	WikiText2Test       = "wikitext2-test"
	PublicDomainHeldout = "public-domain-heldout"
	WikiText103Valid    = "wikitext103-valid"
)

// Text is a named body of text.
type Text struct {
	Name string // an embedded name, or the file path it was read from
	Body string
	// Embedded is true for the texts shipped in the binary.
	Embedded bool
	// EvalOnly marks texts that must never be used for calibration.
	EvalOnly bool
}

var embedded = map[string]Text{
	WikiText2Test:       {Name: WikiText2Test, Body: wikiText2Test, Embedded: true, EvalOnly: true},
	PublicDomainHeldout: {Name: PublicDomainHeldout, Body: publicDomainHeldout, Embedded: true},
	WikiText103Valid:    {Name: WikiText103Valid, Body: wikiText103Valid, Embedded: true},
}

// Names lists the embedded texts.
func Names() []string {
	names := make([]string, 0, len(embedded))
	for n := range embedded {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Load returns the embedded text of that name, or else reads the file at
// that path.
func Load(nameOrPath string) (Text, error) {
	if t, ok := embedded[nameOrPath]; ok {
		return t, nil
	}
	b, err := readText(nameOrPath)
	if err != nil {
		return Text{}, err
	}
	if err := checkText(b); err != nil {
		return Text{}, fmt.Errorf("text file %s %v; texts must be UTF-8 plain text", nameOrPath, err)
	}
	return Text{Name: nameOrPath, Body: string(b)}, nil
}

// MaxTextBytes bounds a text file: 1 GiB, about twice WikiText-103's whole
// training split (~540 MB); a text is read and tokenised in memory whole.
const MaxTextBytes = 1 << 30

func readText(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err == nil && st.IsDir() {
		return nil, fmt.Errorf("text %q is a directory, not a text file", path)
	}
	if err == nil && st.Size() > MaxTextBytes {
		return nil, fmt.Errorf("text file %s is %d bytes, more than the %d (1 GiB) hyquant reads", path, st.Size(), MaxTextBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("text %q is neither an embedded text (%v) nor a readable file: %w", path, Names(), err)
	}
	return b, nil
}

// checkText refuses binary data: a NUL byte (no text file holds one), or
// bytes that are not UTF-8 (a tokenizer would silently turn them into
// replacement characters, so the numbers would be of another text).
func checkText(b []byte) error {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		l, c := lineCol(b, i)
		return fmt.Errorf("looks binary (or UTF-16): NUL byte at offset %d (line %d, column %d)", i, l, c)
	}
	if utf8.Valid(b) {
		return nil
	}
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			l, c := lineCol(b, i)
			return fmt.Errorf("is not UTF-8: invalid byte 0x%02x at offset %d (line %d, column %d)", b[i], i, l, c)
		}
		i += n
	}
	return nil
}

// lineCol is the 1-based line and byte column of offset off.
func lineCol(b []byte, off int) (int, int) {
	line := 1 + bytes.Count(b[:off], []byte{'\n'})
	return line, off - bytes.LastIndexByte(b[:off], '\n')
}

// MustEmbedded returns an embedded text; it panics on an unknown name, which
// is a programming error.
func MustEmbedded(name string) Text {
	t, ok := embedded[name]
	if !ok {
		panic("datasets: no embedded text " + name)
	}
	return t
}
