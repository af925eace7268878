// Package plans ships the precision plans in this folder inside the binary
// and loads a plan by file path or by shipped name (e.g. "seed").
package plans

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hyquant/hyquant/internal/yamlx"
	"github.com/hyquant/hyquant/quant/plan"
)

//go:embed *.yaml
var files embed.FS

// Names lists the shipped plans.
func Names() []string {
	ents, _ := files.ReadDir(".")
	var out []string
	for _, e := range ents {
		out = append(out, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(out)
	return out
}

// Load reads a plan from a file, or a shipped plan by name.
func Load(ref string) (*plan.Plan, error) {
	if _, err := os.Stat(ref); err == nil {
		return plan.LoadPlan(ref)
	}
	if p, ok, err := loadShipped(ref); ok {
		return p, err
	}
	return nil, fmt.Errorf("plan %q: no such file, and not a shipped plan (shipped: %s)", ref, strings.Join(Names(), ", "))
}

// LoadFrom loads a plan named inside a file of directory dir (an
// experiment config): a relative path resolves against dir, not the
// working directory; a reference that is no file there is a shipped plan.
func LoadFrom(dir, ref string) (*plan.Plan, error) {
	path := ref
	if !filepath.IsAbs(ref) {
		path = filepath.Join(dir, ref)
	}
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		return plan.LoadPlan(path)
	}
	if p, ok, err := loadShipped(ref); ok {
		return p, err
	}
	return nil, fmt.Errorf("plan %q: no such file %s (relative plan paths resolve against %s, the directory of the file naming the plan), and not a shipped plan (shipped: %s)",
		ref, path, dir, strings.Join(Names(), ", "))
}

// loadShipped parses a shipped plan; ok is false when there is none of
// that name.
func loadShipped(ref string) (*plan.Plan, bool, error) {
	name := strings.TrimSuffix(ref, ".yaml")
	data, err := files.ReadFile(name + ".yaml")
	if err != nil || strings.ContainsAny(name, `/\`) {
		return nil, false, nil
	}
	m, err := yamlx.Parse(data, "plans/"+name+".yaml")
	if err != nil {
		return nil, true, err
	}
	p, err := plan.ParsePlan(m)
	return p, true, err
}
