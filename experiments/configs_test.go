package experiments

import (
	"path/filepath"
	"testing"
)

// Every shipped experiment config parses and validates.
func TestShippedConfigsValidate(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	if len(files) < 4 {
		t.Fatalf("only %d shipped configs", len(files))
	}
	for _, f := range files {
		c, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(c.Runs) == 0 {
			t.Errorf("%s: no runs", f)
		}
	}
}
