// Package outdir is the one rule for the outputs hyquant writes (quantised
// checkpoints, synthetic checkpoints, GGUF files): an output never replaces
// a file of another kind, never lands in, on or around the model it is made
// from, is built under a temporary name beside it and renamed into place,
// and the temporary files an interrupted run leaves behind are named by the
// next one instead of silently piling up.
package outdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// TempPattern is the os.MkdirTemp / os.CreateTemp pattern of the temporary
// file or directory that becomes out.
func TempPattern(out string) string { return "." + filepath.Base(filepath.Clean(out)) + ".tmp-*" }

// CheckDir checks that a directory may be written at out: out is not empty,
// is not an existing non-directory, does not overlap any of sources (the
// model files it is made from: a directory, a GGUF file), and is empty
// unless force.
func CheckDir(out string, force bool, sources ...string) error {
	if err := checkCommon(out, sources); err != nil {
		return err
	}
	ents, err := os.ReadDir(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		if st, serr := os.Stat(out); serr == nil && !st.IsDir() {
			return fmt.Errorf("--out %s exists and is not a directory; hyquant never replaces a file with a checkpoint directory (choose another --out)", out)
		}
		return err
	case len(ents) == 0 || force:
		return nil
	}
	if left := onlyTemps(ents); left != nil {
		return fmt.Errorf("output directory %s holds only %s, temporary files left by an interrupted run; remove them (rm -r %s) or choose another --out",
			out, strings.Join(left, ", "), filepath.Join(out, ".*.tmp-*"))
	}
	return fmt.Errorf("output directory %s exists and is not empty (use --force to replace it)", out)
}

// CheckFile is CheckDir for a single output file (a GGUF export): out must
// not be a directory, nor one of sources or inside a source directory, and
// an existing file is replaced only with force.
func CheckFile(out string, force bool, sources ...string) error {
	if err := checkCommon(out, sources); err != nil {
		return err
	}
	st, err := os.Stat(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case st.IsDir():
		return fmt.Errorf("--out %s is a directory; give a file name", out)
	case !st.Mode().IsRegular():
		return fmt.Errorf("--out %s exists and is not a regular file; choose another --out", out)
	case !force:
		return fmt.Errorf("--out %s exists (use --force to replace it)", out)
	}
	return nil
}

func checkCommon(out string, sources []string) error {
	if strings.TrimSpace(out) == "" {
		return errors.New("--out is empty: give the output path")
	}
	for _, src := range sources {
		if err := checkOverlap(out, src); err != nil {
			return err
		}
	}
	return nil
}

// checkOverlap refuses an output equal to the source, inside it, or
// containing it (replacing such an output would delete the source),
// comparing absolute paths with symbolic links resolved.
func checkOverlap(out, src string) error {
	if src == "" {
		return nil
	}
	o, err := resolve(out)
	if err != nil {
		return err
	}
	s, err := resolve(src)
	if err != nil {
		return err
	}
	switch {
	case o == s:
		return fmt.Errorf("--out %s is the source model %s itself; hyquant never writes over its input, even with --force (choose another --out)", out, src)
	case within(o, s):
		return fmt.Errorf("--out %s is inside the source model %s; hyquant never writes into its input, even with --force (choose another --out)", out, src)
	case within(s, o):
		return fmt.Errorf("--out %s contains the source model %s; replacing it would delete the model, so it is refused even with --force (choose another --out)", out, src)
	}
	return nil
}

// within reports whether path p is strictly inside directory dir.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// resolve makes p absolute with the symbolic links of its longest existing
// prefix resolved, so two spellings of one place compare equal even when
// the tail does not exist yet.
func resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var tail []string
	for cur := abs; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(append([]string{r}, tail...)...), nil
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		tail = append([]string{filepath.Base(cur)}, tail...)
		cur = parent
	}
}

// isTemp reports whether a name is a temporary file of hyquant's writers
// (TempPattern, and the export's ".<name>.quant-*").
func isTemp(name string) bool {
	return strings.HasPrefix(name, ".") && (strings.Contains(name, ".tmp-") || strings.Contains(name, ".quant-"))
}

func onlyTemps(ents []fs.DirEntry) []string {
	var names []string
	for _, e := range ents {
		if !isTemp(e.Name()) {
			return nil
		}
		names = append(names, e.Name())
	}
	return names
}

// Leftovers lists the temporary files and directories that interrupted
// runs writing out left beside it (".<base>.tmp-*", ".<base>.quant-*"),
// sorted.
func Leftovers(out string) []string {
	clean := filepath.Clean(out)
	var found []string
	for _, pat := range []string{TempPattern(clean), "." + filepath.Base(clean) + ".quant-*"} {
		m, _ := filepath.Glob(filepath.Join(filepath.Dir(clean), pat))
		found = append(found, m...)
	}
	sort.Strings(found)
	return found
}

// Replace renames the completed temporary tmp to out. An existing empty
// directory at out is replaced; a non-empty one only with force; a
// non-directory never (it is refused, not deleted).
func Replace(tmp, out string, force bool) error {
	st, err := os.Lstat(out)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("--out %s exists and is not a directory; it is left as it was and the output is in %s", out, tmp)
	case force:
		if err := os.RemoveAll(out); err != nil {
			return err
		}
	default:
		if err := os.Remove(out); err != nil { // fails unless empty
			return fmt.Errorf("output directory %s is no longer empty: %w (the output is in %s)", out, err, tmp)
		}
	}
	return os.Rename(tmp, out)
}
