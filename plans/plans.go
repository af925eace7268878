// Package plans ships the precision plans in this folder inside the binary
// and loads a plan by file path or by shipped name (e.g. "seed").
package plans

import (
	"embed"
	"fmt"
	"os"
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
	data, err := files.ReadFile(strings.TrimSuffix(ref, ".yaml") + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("plan %q: no such file, and not a shipped plan (shipped: %s)", ref, strings.Join(Names(), ", "))
	}
	m, err := yamlx.Parse(data, "plans/"+strings.TrimSuffix(ref, ".yaml")+".yaml")
	if err != nil {
		return nil, err
	}
	return plan.ParsePlan(m)
}
