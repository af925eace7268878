// Package datasets ships the evaluation and calibration texts inside the
// binary and resolves a text by name or by path. See README.md in this
// folder for the sources and licences.
package datasets

import (
	_ "embed"
	"fmt"
	"os"
	"sort"
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
	b, err := os.ReadFile(nameOrPath)
	if err != nil {
		return Text{}, fmt.Errorf("text %q is neither an embedded text (%v) nor a readable file: %w", nameOrPath, Names(), err)
	}
	return Text{Name: nameOrPath, Body: string(b)}, nil
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
