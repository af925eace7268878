// Package yamlx reads YAML documents field by field so that every error
// names the file, the line and the dotted path of the field, and unknown
// keys are errors. Plans and experiment configs are read with it.
package yamlx

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a problem at one place of a YAML file.
type Error struct {
	File string
	Line int
	Path string // dotted field path, e.g. categories.ssm_in_proj.bits
	Msg  string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Path == "" {
		return loc + ": " + e.Msg
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Path, e.Msg)
}

// Node is a YAML node with its file and path, for messages.
type Node struct {
	File string
	Path string
	N    *yaml.Node
}

// MaxBytes bounds a YAML input: 8 MiB. Plans and experiment configs are a
// few KB; a plan overriding every tensor of a thousand-layer model stays
// under a megabyte. Anything bigger is not one of them, and is refused
// before it is parsed into memory.
const MaxBytes = 8 << 20

// ReadFile parses a YAML file whose top level is a mapping.
func ReadFile(path string) (*Map, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return nil, &Error{File: path, Msg: "is not a regular file"}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// Parse parses a YAML document whose top level is a mapping. A second
// document in the same input (after a `---`) is an error, not ignored.
func Parse(data []byte, file string) (*Map, error) {
	if len(data) > MaxBytes {
		return nil, &Error{File: file, Msg: fmt.Sprintf("is larger than %d bytes (8 MiB), the most hyquant reads as a plan or config", MaxBytes)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		return nil, invalid(file, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "file is empty"}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return nil, invalid(file, err)
	default:
		return nil, &Error{File: file, Line: next.Line, Msg: "a second YAML document starts here; a plan or config is one document (remove the `---` and what follows, or merge them)"}
	}
	return Node{File: file, N: doc.Content[0]}.Map()
}

func invalid(file string, err error) error {
	return &Error{File: file, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
}

// Errorf makes an Error at this node.
func (n Node) Errorf(format string, args ...any) error {
	line := 0
	if n.N != nil {
		line = n.N.Line
	}
	return &Error{File: n.File, Line: line, Path: n.Path, Msg: fmt.Sprintf(format, args...)}
}

func (n Node) child(key string, v *yaml.Node) Node {
	p := key
	if n.Path != "" {
		p = n.Path + "." + key
	}
	return Node{File: n.File, Path: p, N: v}
}

// IsScalar reports whether the node is a scalar.
func (n Node) IsScalar() bool { return n.N.Kind == yaml.ScalarNode }

// IsMap reports whether the node is a mapping.
func (n Node) IsMap() bool { return n.N.Kind == yaml.MappingNode }

// Map views a mapping node.
func (n Node) Map() (*Map, error) {
	if n.N.Kind != yaml.MappingNode {
		return nil, n.Errorf("expected a mapping of fields, found %s", kindName(n.N))
	}
	m := &Map{Node: n, values: map[string]*yaml.Node{}, keyNodes: map[string]*yaml.Node{}, used: map[string]bool{}}
	for i := 0; i+1 < len(n.N.Content); i += 2 {
		k, v := n.N.Content[i], n.N.Content[i+1]
		if _, dup := m.values[k.Value]; dup {
			return nil, n.child(k.Value, k).Errorf("appears twice")
		}
		m.keys = append(m.keys, k.Value)
		m.values[k.Value] = v
		m.keyNodes[k.Value] = k
	}
	return m, nil
}

// Seq views a sequence node.
func (n Node) Seq() ([]Node, error) {
	if n.N.Kind != yaml.SequenceNode {
		return nil, n.Errorf("expected a list, found %s", kindName(n.N))
	}
	out := make([]Node, len(n.N.Content))
	for i, v := range n.N.Content {
		out[i] = n.child(strconv.Itoa(i), v)
		out[i].Path = fmt.Sprintf("%s[%d]", n.Path, i)
	}
	return out, nil
}

// Text reads a scalar as a string.
func (n Node) Text() (string, error) {
	if n.N.Kind != yaml.ScalarNode {
		return "", n.Errorf("expected a string, found %s", kindName(n.N))
	}
	return n.N.Value, nil
}

// Int reads a scalar integer.
func (n Node) Int() (int, error) {
	s, err := n.Text()
	if err != nil {
		return 0, err
	}
	v, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if err != nil {
		return 0, n.Errorf("expected an integer, found %q", s)
	}
	return v, nil
}

// Float reads a scalar number.
func (n Node) Float() (float64, error) {
	s, err := n.Text()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) {
		return 0, n.Errorf("expected a number, found %q", s)
	}
	return v, nil
}

// Bool reads a scalar boolean (true/false, yes/no, on/off).
func (n Node) Bool() (bool, error) {
	s, err := n.Text()
	if err != nil {
		return false, err
	}
	switch strings.ToLower(s) {
	case "true", "yes", "on":
		return true, nil
	case "false", "no", "off":
		return false, nil
	}
	return false, n.Errorf("expected true or false, found %q", s)
}

// Map is a mapping whose fields are consumed one by one; Done reports keys
// nobody asked for.
type Map struct {
	Node
	keys     []string
	values   map[string]*yaml.Node
	keyNodes map[string]*yaml.Node
	used     map[string]bool
}

// Keys lists the keys in file order.
func (m *Map) Keys() []string { return m.keys }

// Get returns a field and whether it is present, marking it used.
func (m *Map) Get(key string) (Node, bool) {
	v, ok := m.values[key]
	if !ok {
		return Node{}, false
	}
	m.used[key] = true
	return m.child(key, v), true
}

// Key returns the node of a key itself (for messages about the key).
func (m *Map) Key(key string) Node { return m.child(key, m.keyNodes[key]) }

// Require returns a field or an error saying it is missing.
func (m *Map) Require(key string) (Node, error) {
	n, ok := m.Get(key)
	if !ok {
		return Node{}, m.Errorf("missing required field %q", key)
	}
	return n, nil
}

// String reads an optional string field (def when absent).
func (m *Map) String(key, def string) (string, error) {
	n, ok := m.Get(key)
	if !ok {
		return def, nil
	}
	return n.Text()
}

// Int reads an optional integer field.
func (m *Map) Int(key string, def int) (int, error) {
	n, ok := m.Get(key)
	if !ok {
		return def, nil
	}
	return n.Int()
}

// Float reads an optional number field.
func (m *Map) Float(key string, def float64) (float64, error) {
	n, ok := m.Get(key)
	if !ok {
		return def, nil
	}
	return n.Float()
}

// Bool reads an optional boolean field.
func (m *Map) Bool(key string, def bool) (bool, error) {
	n, ok := m.Get(key)
	if !ok {
		return def, nil
	}
	return n.Bool()
}

// Done fails on the first key (in file order) that was never read, listing
// the known ones.
func (m *Map) Done(known ...string) error {
	for _, k := range m.keys {
		if !m.used[k] {
			sort.Strings(known)
			return m.Key(k).Errorf("unknown field (known fields here: %s)", strings.Join(known, ", "))
		}
	}
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "nothing"
}
