// Package models embeds the project's reference models in the binary: the
// trained 15M-parameter nemotron-h-mini (the default model, so every command
// works anywhere) and the published Nemotron-H-8B-Base-8K config (shapes
// only: no weights are shipped or needed for inventories and memory plans).
package models

import (
	"io/fs"
	"sort"
)

// files holds the models: embedded in the binary (embed.go), or, in a
// binary built with -tags hyquant_noembed, read from a models directory
// on disk (noembed.go).
var files fs.FS

// Default is the model commands use when none is given.
const Default = "nemotron-h-mini"

// FS is the file system of the embedded models, one directory per model.
func FS() fs.FS { return files }

// Names lists the embedded models.
func Names() []string {
	ents, _ := fs.ReadDir(files, ".")
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// Has reports whether a model of that name is embedded.
func Has(name string) bool {
	st, err := fs.Stat(files, name)
	return err == nil && st.IsDir()
}
