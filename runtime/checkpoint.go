package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hyquant/hyquant/runtime/safetensors"
)

// IndexFile is the name of a sharded checkpoint's index.
const IndexFile = "model.safetensors.index.json"

// Checkpoint is the set of tensors of a model, over one or more safetensors
// files, memory-mapped (or held by the binary, for the embedded model).
type Checkpoint struct {
	Dir    string
	Files  []*safetensors.File
	byName map[string]tensorRef
}

type tensorRef struct {
	file *safetensors.File
	info safetensors.TensorInfo
}

// TensorInfo is one tensor's description with the file that holds it.
type TensorInfo struct {
	safetensors.TensorInfo
	File string
}

// CheckpointError reports an inconsistent checkpoint.
type CheckpointError struct {
	File string
	Msg  string
}

func (e *CheckpointError) Error() string { return e.File + ": " + e.Msg }

// OpenCheckpoint opens the safetensors weights of a model directory (sharded
// with model.safetensors.index.json, or a single model.safetensors), or a
// single .safetensors file.
func OpenCheckpoint(path string) (*Checkpoint, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return openFiles(filepath.Dir(path), []string{filepath.Base(path)}, nil, fileOpener(filepath.Dir(path)))
	}
	return openDir(path, fileOpener(path), func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(path, name))
	}, func() ([]string, error) {
		return filepath.Glob(filepath.Join(path, "*.safetensors"))
	})
}

// OpenCheckpointStream opens a model directory like OpenCheckpoint but reads
// tensors with ReadAt instead of mapping them, so streaming through a large
// checkpoint keeps the resident set small.
func OpenCheckpointStream(dir string) (*Checkpoint, error) {
	open := func(name string) (*safetensors.File, error) { return safetensors.OpenStream(filepath.Join(dir, name)) }
	return openDir(dir, open, func(name string) ([]byte, error) {
		return os.ReadFile(filepath.Join(dir, name))
	}, func() ([]string, error) {
		return filepath.Glob(filepath.Join(dir, "*.safetensors"))
	})
}

// OpenCheckpointFS opens a model directory inside a file system (used for
// the model embedded in the binary). Files are read into memory.
func OpenCheckpointFS(fsys fs.FS, dir string) (*Checkpoint, error) {
	read := func(name string) ([]byte, error) { return fs.ReadFile(fsys, pathJoin(dir, name)) }
	open := func(name string) (*safetensors.File, error) {
		b, err := read(name)
		if err != nil {
			return nil, err
		}
		return safetensors.Parse(pathJoin(dir, name), b)
	}
	return openDir(dir, open, read, func() ([]string, error) { return fs.Glob(fsys, pathJoin(dir, "*.safetensors")) })
}

func pathJoin(dir, name string) string {
	if dir == "" || dir == "." {
		return name
	}
	return dir + "/" + name
}

func fileOpener(dir string) func(string) (*safetensors.File, error) {
	return func(name string) (*safetensors.File, error) { return safetensors.Open(filepath.Join(dir, name)) }
}

func openDir(dir string, open func(string) (*safetensors.File, error), read func(string) ([]byte, error), glob func() ([]string, error)) (*Checkpoint, error) {
	idx, err := read(IndexFile)
	switch {
	case err == nil:
		index, files, err := parseIndex(idx, pathJoin(dir, IndexFile))
		if err != nil {
			return nil, err
		}
		return openFiles(dir, files, index, open)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	if _, err := read("model.safetensors"); err == nil {
		return openFiles(dir, []string{"model.safetensors"}, nil, open)
	}
	matches, err := glob()
	if err != nil {
		return nil, err
	}
	switch len(matches) {
	case 0:
		return nil, &CheckpointError{File: dir, Msg: "no model.safetensors, no " + IndexFile + " and no *.safetensors file"}
	case 1:
		return openFiles(dir, []string{filepath.Base(matches[0])}, nil, open)
	}
	return nil, &CheckpointError{File: dir, Msg: fmt.Sprintf("%d .safetensors files but no %s to say how they fit together", len(matches), IndexFile)}
}

// parseIndex reads weight_map and returns it with the distinct shard names.
func parseIndex(data []byte, name string) (map[string]string, []string, error) {
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, nil, &CheckpointError{File: name, Msg: "not valid JSON: " + err.Error()}
	}
	if len(idx.WeightMap) == 0 {
		return nil, nil, &CheckpointError{File: name, Msg: "weight_map is missing or empty"}
	}
	seen := map[string]bool{}
	var files []string
	for t, f := range idx.WeightMap {
		if f == "" || strings.ContainsAny(f, `/\`) || f == "." || f == ".." {
			return nil, nil, &CheckpointError{File: name, Msg: fmt.Sprintf("weight_map entry %q names file %q, which is not a file name in the model directory", t, f)}
		}
		if !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
	}
	sort.Strings(files)
	return idx.WeightMap, files, nil
}

func openFiles(dir string, names []string, index map[string]string, open func(string) (*safetensors.File, error)) (*Checkpoint, error) {
	c := &Checkpoint{Dir: dir, byName: map[string]tensorRef{}}
	for _, n := range names {
		f, err := open(n)
		if err != nil {
			c.Close()
			if errors.Is(err, fs.ErrNotExist) && index != nil {
				return nil, &CheckpointError{File: pathJoin(dir, IndexFile), Msg: fmt.Sprintf("weight_map points at %s, which does not exist", n)}
			}
			return nil, err
		}
		c.Files = append(c.Files, f)
		for _, t := range f.Tensors {
			if prev, dup := c.byName[t.Name]; dup {
				c.Close()
				return nil, &CheckpointError{File: f.Path, Msg: fmt.Sprintf("tensor %q is also in %s", t.Name, prev.file.Path)}
			}
			c.byName[t.Name] = tensorRef{file: f, info: t}
		}
	}
	if index != nil {
		var problems []string
		for t, fname := range index {
			ref, ok := c.byName[t]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("tensor %q is mapped to %s, which does not hold it", t, fname))
			case filepath.Base(ref.file.Path) != fname:
				problems = append(problems, fmt.Sprintf("tensor %q is mapped to %s but found in %s", t, fname, filepath.Base(ref.file.Path)))
			}
		}
		for t, ref := range c.byName {
			if _, ok := index[t]; !ok {
				problems = append(problems, fmt.Sprintf("tensor %q in %s is not listed in the index", t, filepath.Base(ref.file.Path)))
			}
		}
		if len(problems) > 0 {
			c.Close()
			sort.Strings(problems)
			return nil, &CheckpointError{File: pathJoin(dir, IndexFile), Msg: strings.Join(problems, "; ")}
		}
	}
	return c, nil
}

// Names lists every tensor, sorted.
func (c *Checkpoint) Names() []string {
	names := make([]string, 0, len(c.byName))
	for n := range c.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup describes a tensor.
func (c *Checkpoint) Lookup(name string) (TensorInfo, bool) {
	r, ok := c.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return TensorInfo{TensorInfo: r.info, File: r.file.Path}, true
}

// Raw returns a tensor's bytes without copying.
func (c *Checkpoint) Raw(name string) ([]byte, TensorInfo, error) {
	r, ok := c.byName[name]
	if !ok {
		return nil, TensorInfo{}, &CheckpointError{File: c.Dir, Msg: fmt.Sprintf("checkpoint has no tensor %q", name)}
	}
	b, ti, err := r.file.Raw(name)
	return b, TensorInfo{TensorInfo: ti, File: r.file.Path}, err
}

// ReadAt reads bytes [off, off+len(dst)) of a tensor's data.
func (c *Checkpoint) ReadAt(name string, off int64, dst []byte) error {
	r, ok := c.byName[name]
	if !ok {
		return &CheckpointError{File: c.Dir, Msg: fmt.Sprintf("checkpoint has no tensor %q", name)}
	}
	return r.file.ReadAt(name, off, dst)
}

// Float32 converts a float tensor to float32, checking its shape.
func (c *Checkpoint) Float32(name string, shape ...int) ([]float32, error) {
	r, ok := c.byName[name]
	if !ok {
		return nil, &CheckpointError{File: c.Dir, Msg: fmt.Sprintf("checkpoint has no tensor %q", name)}
	}
	if err := checkShape(r, shape); err != nil {
		return nil, err
	}
	v, _, err := r.file.Float32(name)
	return v, err
}

func checkShape(r tensorRef, shape []int) error {
	if shape == nil {
		return nil
	}
	ok := len(shape) == len(r.info.Shape)
	for i := 0; ok && i < len(shape); i++ {
		ok = int64(shape[i]) == r.info.Shape[i]
	}
	if !ok {
		return &CheckpointError{File: r.file.Path, Msg: fmt.Sprintf("tensor %q has shape %v, want %v", r.info.Name, r.info.Shape, shape)}
	}
	return nil
}

// Close releases every file.
func (c *Checkpoint) Close() error {
	var first error
	for _, f := range c.Files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
