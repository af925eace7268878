package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hyquant/hyquant/models"
	"github.com/hyquant/hyquant/runtime/gguf"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// ModelFiles locates a model: a directory in the Hugging Face layout
// (config.json, safetensors, tokenizer.json), a bare config.json (shapes
// only), or a model embedded in the binary, by name.
type ModelFiles struct {
	Ref      string // as the user gave it
	Config   *Config
	Dir      string // directory on disk, or in the embedded file system
	Embedded bool
	// ConfigOnly is true when only a config was given: no weights, no tokenizer.
	ConfigOnly bool
	// GGUF is the path of a GGUF file when the model is one (Config then
	// comes from its metadata); "" otherwise.
	GGUF string
}

// ResolveModel finds a model by path or embedded name ("" means the default).
func ResolveModel(ref string) (*ModelFiles, error) {
	if ref == "" {
		ref = models.Default
	}
	st, err := os.Stat(ref)
	switch {
	case err == nil && st.IsDir():
		cfgPath := filepath.Join(ref, "config.json")
		cfg, err := LoadConfig(cfgPath)
		if err != nil {
			return nil, err
		}
		return &ModelFiles{Ref: ref, Config: cfg, Dir: ref}, nil
	case err == nil && gguf.IsGGUF(ref):
		f, err := gguf.Open(ref)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		cfg, err := ConfigFromGGUF(f)
		if err != nil {
			return nil, err
		}
		return &ModelFiles{Ref: ref, Config: cfg, Dir: filepath.Dir(ref), GGUF: ref}, nil
	case err == nil:
		cfg, err := LoadConfig(ref)
		if err != nil {
			return nil, err
		}
		return &ModelFiles{Ref: ref, Config: cfg, Dir: filepath.Dir(ref), ConfigOnly: true}, nil
	case models.Has(ref):
		data, err := fs.ReadFile(models.FS(), ref+"/config.json")
		if err != nil {
			return nil, err
		}
		cfg, err := ParseConfig(data, "embedded:"+ref+"/config.json")
		if err != nil {
			return nil, err
		}
		_, werr := fs.Stat(models.FS(), ref+"/"+IndexFile)
		return &ModelFiles{Ref: ref, Config: cfg, Dir: ref, Embedded: true, ConfigOnly: werr != nil}, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("model %q: no such file or directory, and not an embedded model (embedded: %s)", ref, strings.Join(models.Names(), ", "))
	}
	return nil, err
}

// Sources are the paths an output made from this model must stay clear
// of: the model directory, the GGUF file or the config file; none for an
// embedded model.
func (m *ModelFiles) Sources() []string {
	switch {
	case m.Embedded:
		return nil
	case m.GGUF != "":
		return []string{m.GGUF}
	case m.ConfigOnly:
		return []string{m.Ref}
	}
	return []string{m.Dir}
}

// OpenCheckpoint opens the model's weights.
func (m *ModelFiles) OpenCheckpoint() (*Checkpoint, error) {
	if m.ConfigOnly {
		return nil, fmt.Errorf("model %q is a config only: no weights to read", m.Ref)
	}
	if m.Embedded {
		return OpenCheckpointFS(models.FS(), m.Dir)
	}
	if m.GGUF != "" {
		_, _, ck, err := OpenGGUFModel(m.GGUF)
		return ck, err
	}
	return OpenCheckpoint(m.Dir)
}

// OpenCheckpointStream opens the model's weights for reading through once
// with a small resident set: a directory's safetensors read with pread
// (OpenCheckpointStream), an embedded model or a GGUF file as
// OpenCheckpoint opens them (in memory, or mapped).
func (m *ModelFiles) OpenCheckpointStream() (*Checkpoint, error) {
	if m.Embedded || m.GGUF != "" || m.ConfigOnly {
		return m.OpenCheckpoint()
	}
	return OpenCheckpointStream(m.Dir)
}

// ReadFile reads a file of the model directory (e.g. tokenizer.json). For
// a GGUF model, config.json is the Hub config its metadata describes, and
// tokenizer.json the one beside the file or else the one its tokenizer
// metadata describes.
func (m *ModelFiles) ReadFile(name string) ([]byte, error) {
	if m.GGUF != "" {
		switch name {
		case "config.json":
			return m.Config.HubJSON()
		case "tokenizer.json":
			if b, err := os.ReadFile(filepath.Join(m.Dir, name)); err == nil {
				return b, nil
			}
			return ggufTokenizerJSON(m.GGUF)
		}
	}
	if m.Embedded {
		return fs.ReadFile(models.FS(), m.Dir+"/"+name)
	}
	return os.ReadFile(filepath.Join(m.Dir, name))
}

// Describe says what the model reference resolved to, for output headers.
func (m *ModelFiles) Describe() string {
	switch {
	case m.Embedded && m.ConfigOnly:
		return fmt.Sprintf("%s (embedded config; shapes only)", m.Ref)
	case m.Embedded:
		return fmt.Sprintf("%s (embedded)", m.Ref)
	case m.ConfigOnly:
		return fmt.Sprintf("%s (config only; shapes only)", m.Ref)
	case m.GGUF != "":
		return fmt.Sprintf("%s (GGUF, %s)", m.GGUF, GGUFArch)
	}
	return m.Dir
}

// StoredDTypes returns each tensor's dtype: from the checkpoint when there
// is one, else the config's torch_dtype for every tensor. A GGUF tensor in
// a float type has that dtype; a quantised one counts as the config's
// torch_dtype (the dtype of the model it was quantised from).
func (m *ModelFiles) StoredDTypes(ck *Checkpoint) (func(string) safetensors.DType, error) {
	d, err := m.Config.StoredDType()
	if ck != nil {
		if err != nil {
			d = safetensors.BF16
		}
		return func(name string) safetensors.DType {
			if t, _, ok := ck.GGUFTensor(name); ok {
				if fd, isFloat := GGMLFloatDType(t.Type); isFloat {
					return fd
				}
				return d
			}
			if ti, ok := ck.Lookup(name); ok {
				return ti.DType
			}
			return safetensors.BF16
		}, nil
	}
	if err != nil {
		return nil, err
	}
	return func(string) safetensors.DType { return d }, nil
}
