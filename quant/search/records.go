package search

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hyquant/hyquant/internal/atomicfile"
)

// Records is a search's work directory: every measurement is one JSON file
// written atomically, so an interrupted search loses at most the
// measurement in flight and a rerun continues from the files. The
// directory's identity.json names what the measurements depend on; a
// search with another identity refuses the directory. The identity's model
// carries the digest of the model's files, so a rewritten checkpoint at the
// same path is another model.
type Records struct {
	Dir string
}

// IdentityFile holds what every record of a directory was measured under.
const IdentityFile = "identity.json"

// Identity is everything a measurement depends on (not the budget: the
// sensitivities serve every budget; refinement records live under a
// directory of their budget).
type Identity struct {
	Protocol    int      `json:"protocol"` // bumped when measurements change meaning
	Model       string   `json:"model"`
	Formats     []string `json:"formats"`
	Rounding    string   `json:"rounding"`
	Damp        float64  `json:"damp"`
	Objective   string   `json:"objective"`
	Calibration string   `json:"calibration"` // text, segments×length, seed, and the text's digest
	Windows     string   `json:"windows"`     // sensitivity and held-out windows
}

// protocol is the version of what the records mean.
const protocol = 1

// OpenRecords opens (creating) a work directory for an identity. A
// directory holding another identity is refused, naming the fields that
// differ, unless discard is set: then its records are removed first, so
// nothing measured under the old identity is ever mixed in.
func OpenRecords(dir string, id Identity, discard bool) (*Records, error) {
	id.Protocol = protocol
	want, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, IdentityFile)
	have, err := os.ReadFile(path)
	switch {
	case err == nil && !bytes.Equal(bytes.TrimSpace(have), bytes.TrimSpace(want)):
		if !discard {
			return nil, fmt.Errorf("%s holds a search with another identity (%s); use another --work directory, or --discard-records to delete its records", dir, identityDiff(have, id))
		}
		if err := os.RemoveAll(dir); err != nil {
			return nil, err
		}
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	case err != nil:
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			return nil, fmt.Errorf("%s is not empty and holds no %s: not a search work directory", dir, IdentityFile)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(path, append(want, '\n')); err != nil {
		return nil, err
	}
	return &Records{Dir: dir}, nil
}

// identityDiff names the fields in which a stored identity differs.
func identityDiff(have []byte, want Identity) string {
	var old Identity
	if err := json.Unmarshal(have, &old); err != nil {
		return "unreadable: " + err.Error()
	}
	var diffs []string
	add := func(field string, a, b any) {
		if fmt.Sprint(a) != fmt.Sprint(b) {
			diffs = append(diffs, fmt.Sprintf("%s %v, not %v", field, a, b))
		}
	}
	add("protocol", old.Protocol, protocol)
	add("model", old.Model, want.Model)
	add("formats", old.Formats, want.Formats)
	add("rounding", old.Rounding, want.Rounding)
	add("damp", old.Damp, want.Damp)
	add("objective", old.Objective, want.Objective)
	add("calibration", old.Calibration, want.Calibration)
	add("windows", old.Windows, want.Windows)
	return strings.Join(diffs, "; ")
}

// Load reads a record into v; it reports false when there is none.
func (r *Records) Load(name string, v any) (bool, error) {
	data, err := os.ReadFile(filepath.Join(r.Dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("%s: %v (delete the file to measure it again)", filepath.Join(r.Dir, name), err)
	}
	return true, nil
}

// Save writes a record atomically.
func (r *Records) Save(name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %v", name, err)
	}
	path := filepath.Join(r.Dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(data, '\n'))
}

// fileName turns a tensor name into a file name.
func fileName(s string) string {
	return strings.NewReplacer("/", "_", "\\", "_", ":", "_").Replace(s)
}

// digest is a short stable hash of a string.
func digest(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:8])
}
