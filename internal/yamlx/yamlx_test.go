package yamlx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFieldsAndErrors(t *testing.T) {
	m, err := Parse([]byte("a: 3\nb: yes\nc: [1, 2]\nd: {e: x, g: 1}\nf: 1.5\n"), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := m.Int("a", 0)
	b, _ := m.Bool("b", false)
	f, _ := m.Float("f", 0)
	if a != 3 || !b || f != 1.5 {
		t.Fatalf("a=%d b=%v f=%v", a, b, f)
	}
	if v, _ := m.Int("missing", 7); v != 7 {
		t.Fatal("default not used")
	}
	c, _ := m.Get("c")
	items, err := c.Seq()
	if err != nil || len(items) != 2 || items[1].Path != "c[1]" {
		t.Fatalf("seq %v %v", items, err)
	}
	d, _ := m.Get("d")
	dm, _ := d.Map()
	if _, err := dm.Int("e", 0); err == nil || err.Error() != `f.yaml:4: d.e: expected an integer, found "x"` {
		t.Fatalf("type error: %v", err)
	}
	if err := dm.Done("e", "z"); err == nil || !strings.Contains(err.Error(), "f.yaml:4: d.g: unknown field (known fields here: e, z)") {
		t.Fatalf("unknown field: %v", err)
	}
	if err := m.Done(); err != nil {
		t.Fatalf("all top-level fields were read: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	cases := map[string]string{
		"":             "f.yaml: file is empty",
		"a: [1, 2\n":   "f.yaml: not valid YAML",
		"- 1\n- 2\n":   "f.yaml:1: expected a mapping of fields, found a list",
		"a: 1\na: 2\n": "f.yaml:2: a: appears twice",
	}
	for src, want := range cases {
		_, err := Parse([]byte(src), "f.yaml")
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: got %v, want prefix %q", src, err, want)
		}
	}
	m, _ := Parse([]byte("x: {y: 1}\n"), "f.yaml")
	if _, err := m.Require("nope"); err == nil || err.Error() != `f.yaml:1: missing required field "nope"` {
		t.Errorf("require: %v", err)
	}
	x, _ := m.Get("x")
	if _, err := x.Text(); err == nil || !strings.Contains(err.Error(), "expected a string, found a mapping") {
		t.Errorf("text of a mapping: %v", err)
	}
}

// A second document is an error at the line it starts (yaml.Unmarshal
// would silently drop it), and inputs over MaxBytes are refused unparsed.
func TestMultiDocumentAndOversize(t *testing.T) {
	for src, want := range map[string]string{
		"name: a\n---\nname: b\n": "f.yaml:2: a second YAML document starts here",
		"a: 1\n\n---\n- x\n":      "f.yaml:3: a second YAML document starts here",
	} {
		if _, err := Parse([]byte(src), "f.yaml"); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", src, err, want)
		}
	}
	if _, err := Parse([]byte("---\na: 1\n...\n"), "f.yaml"); err != nil {
		t.Errorf("one document with markers: %v", err)
	}
	big := "a: \"" + strings.Repeat("x", MaxBytes) + "\"\n"
	if _, err := Parse([]byte(big), "big.yaml"); err == nil || err.Error() != "big.yaml: is larger than 8388608 bytes (8 MiB), the most hyquant reads as a plan or config" {
		t.Errorf("oversize: %v", err)
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte(big), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "is larger than 8388608 bytes") {
		t.Errorf("oversize file: %v", err)
	}
	if _, err := ReadFile(filepath.Dir(path)); err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("directory: %v", err)
	}
}
