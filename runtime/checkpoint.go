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
	"sync"

	"github.com/hyquant/hyquant/runtime/gguf"
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

	// A GGUF file seen under Hub names (openGGUFCheckpoint).
	gguf      *gguf.File
	ggufNames map[string]GGUFTensorName
}

// tensorRef is a tensor of a safetensors file, or (mem) one made on demand
// from another format.
type tensorRef struct {
	file *safetensors.File
	info safetensors.TensorInfo
	mem  *memTensor
}

// memTensor is a tensor whose bytes are produced when first read (mapped
// bytes, or a conversion of them) and then kept.
type memTensor struct {
	info safetensors.TensorInfo
	file string
	load func() ([]byte, error)
	// transient tensors are produced again at every read, never kept.
	transient bool

	once sync.Once
	data []byte
	err  error
}

func (m *memTensor) bytes() ([]byte, error) {
	if m.transient {
		return m.produce()
	}
	m.once.Do(func() { m.data, m.err = m.produce() })
	return m.data, m.err
}

func (m *memTensor) produce() ([]byte, error) {
	b, err := m.load()
	if err == nil && int64(len(b)) != m.info.Bytes() {
		err = &CheckpointError{File: m.file, Msg: fmt.Sprintf("tensor %q: %d bytes, want %d", m.info.Name, len(b), m.info.Bytes())}
	}
	return b, err
}

func (r tensorRef) path() string {
	if r.mem != nil {
		return r.mem.file
	}
	return r.file.Path
}

func (r tensorRef) tensorInfo() safetensors.TensorInfo {
	if r.mem != nil {
		return r.mem.info
	}
	return r.info
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
	// Look for model.safetensors among the directory's files rather than
	// reading it: a single-file checkpoint can be many GB.
	matches, err := glob()
	if err != nil {
		return nil, err
	}
	for _, m := range matches {
		if filepath.Base(m) == "model.safetensors" {
			return openFiles(dir, []string{"model.safetensors"}, nil, open)
		}
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
	return TensorInfo{TensorInfo: r.tensorInfo(), File: r.path()}, true
}

// Raw returns a tensor's bytes without copying.
func (c *Checkpoint) Raw(name string) ([]byte, TensorInfo, error) {
	r, ok := c.byName[name]
	if !ok {
		return nil, TensorInfo{}, &CheckpointError{File: c.Dir, Msg: fmt.Sprintf("checkpoint has no tensor %q", name)}
	}
	if r.mem != nil {
		b, err := r.mem.bytes()
		return b, TensorInfo{TensorInfo: r.mem.info, File: r.mem.file}, err
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
	if r.mem != nil {
		b, err := r.mem.bytes()
		if err != nil {
			return err
		}
		if off < 0 || off+int64(len(dst)) > int64(len(b)) {
			return &CheckpointError{File: r.mem.file, Msg: fmt.Sprintf("tensor %q: read of [%d, %d) past its %d bytes", name, off, off+int64(len(dst)), len(b))}
		}
		copy(dst, b[off:])
		return nil
	}
	return r.file.ReadAt(name, off, dst)
}

// Float32 converts a float tensor to float32, checking its shape and that
// every value is finite (a NonFiniteError names the first that is not).
func (c *Checkpoint) Float32(name string, shape ...int) ([]float32, error) {
	r, ok := c.byName[name]
	if !ok {
		return nil, &CheckpointError{File: c.Dir, Msg: fmt.Sprintf("checkpoint has no tensor %q", name)}
	}
	if err := checkShape(r, shape); err != nil {
		return nil, err
	}
	v, err := r.float32()
	if err != nil {
		return nil, err
	}
	return v, CheckFinite(v, TensorInfo{TensorInfo: r.tensorInfo(), File: r.path()}, 0)
}

func (r tensorRef) float32() ([]float32, error) {
	if r.mem != nil {
		b, err := r.mem.bytes()
		if err != nil {
			return nil, err
		}
		v := make([]float32, r.mem.info.NumElements())
		return v, safetensors.ToFloat32(v, b, r.mem.info.DType)
	}
	v, _, err := r.file.Float32(r.info.Name)
	return v, err
}

func checkShape(r tensorRef, shape []int) error {
	if shape == nil {
		return nil
	}
	info := r.tensorInfo()
	ok := len(shape) == len(info.Shape)
	for i := 0; ok && i < len(shape); i++ {
		ok = int64(shape[i]) == info.Shape[i]
	}
	if !ok {
		return &CheckpointError{File: r.path(), Msg: fmt.Sprintf("tensor %q has shape %v, want %v", info.Name, info.Shape, shape)}
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
	if c.gguf != nil {
		if err := c.gguf.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// GGUF returns the GGUF file a checkpoint reads, or nil for safetensors.
func (c *Checkpoint) GGUF() *gguf.File { return c.gguf }

// GGUFTensor describes the GGUF tensor that holds a Hub parameter (ok is
// false for safetensors checkpoints).
func (c *Checkpoint) GGUFTensor(hub string) (*gguf.TensorInfo, GGUFTensorName, bool) {
	if c.gguf == nil {
		return nil, GGUFTensorName{}, false
	}
	n, ok := c.ggufNames[hub]
	if !ok {
		return nil, n, false
	}
	t, ok := c.gguf.Tensor(n.GGUF)
	return t, n, ok
}
