package reports

import (
	"strings"
	"testing"
)

func TestCodeSpans(t *testing.T) {
	for in, want := range map[string]string{
		"seed":        "`seed`",
		"a`b":         "``a`b``",
		"`x":          "`` `x ``",
		"a``b`":       "``` a``b` ```",
		"two\nlines":  "`two\\nlines`",
		"tab\there\r": "`tab\\there\\r`",
		"sep\u2028x":  "`sep\\u2028x`",
	} {
		if got := code(in); got != want {
			t.Errorf("code(%q) = %q, want %q", in, got, want)
		}
	}
	for name, ok := range map[string]bool{"rtn-w4": true, "": false, "../x": false, ".hidden": false, "a b": false, "a\nb": false, `a\b`: false} {
		if plainFileName(name) != ok {
			t.Errorf("plainFileName(%q) = %v", name, !ok)
		}
	}
}

// Run names from a hand-edited results.json cannot break report.md's
// tables, close its code spans or add lines (commands) to the reproduce
// section, and names that are not file names get no suggested command.
func TestHostileRunNamesEscaped(t *testing.T) {
	r := fixture(t)
	evil := "evil`|\nrm -rf ~ #"
	r.Runs[1].Name = evil
	r.Runs[2].Name = "../../etc/cron.d/x"
	r.Experiment = "exp\n# injected heading"
	w, err := Write(t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	md := readReport(t, w)
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "rm -rf") || strings.HasPrefix(line, "# injected") {
			t.Errorf("a name added the line %q", line)
		}
		if strings.Contains(line, "--out") && strings.Contains(line, "etc/cron.d") {
			t.Errorf("command for a path-like run name: %q", line)
		}
	}
	mustContain(t, md, "| ``evil`\\|\\nrm -rf ~ #`` |")
	mustContain(t, md, "# Quantisation report: `exp\\n# injected heading`")
	mustContain(t, md, "# evil`|\\nrm -rf ~ #: ppl ")
	mustContain(t, md, "# no command: the run name is not a plain file name (hyquant run never records one; results.json was edited)")
}
