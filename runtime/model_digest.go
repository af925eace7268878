package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hyquant/hyquant/models"
)

// Digest hashes a model's files: the name and size of each, all of every
// JSON file (config, tokenizer, index) and the first and last MiB of each
// weight file, so a rewritten checkpoint gets another digest without GBs
// being read at every start.
func (m *ModelFiles) Digest() (string, error) {
	var fsys fs.FS
	var names []string
	switch {
	case m.Embedded:
		sub, err := fs.Sub(models.FS(), m.Dir)
		if err != nil {
			return "", err
		}
		fsys = sub
	case m.GGUF != "":
		fsys, names = os.DirFS(filepath.Dir(m.GGUF)), []string{filepath.Base(m.GGUF)}
	case m.ConfigOnly:
		fsys, names = os.DirFS(filepath.Dir(m.Ref)), []string{filepath.Base(m.Ref)}
	default:
		fsys = os.DirFS(m.Dir)
	}
	if names == nil {
		var err error
		if names, err = checkpointFiles(fsys); err != nil {
			return "", err
		}
	}
	h := sha256.New()
	for _, n := range names {
		if err := hashFile(h, fsys, n); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkpointFiles lists the files of a Hugging Face checkpoint directory
// that make the model: its config, tokenizer and index, and the weight
// files the index names (every .safetensors file without an index).
// Anything else (a README, golden outputs kept beside the model) is not
// the model, and whether the directory is embedded or on disk does not
// change the list.
func checkpointFiles(fsys fs.FS) ([]string, error) {
	ents, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, err
	}
	var shards map[string]bool
	if data, err := fs.ReadFile(fsys, "model.safetensors.index.json"); err == nil {
		var idx struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(data, &idx); err != nil {
			return nil, fmt.Errorf("model.safetensors.index.json: %v", err)
		}
		shards = map[string]bool{}
		for _, f := range idx.WeightMap {
			shards[f] = true
		}
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() {
			continue
		}
		switch {
		case n == "config.json" || n == "tokenizer.json" || n == "tokenizer_config.json" || strings.HasSuffix(n, ".safetensors.index.json"):
		case path.Ext(n) == ".safetensors" && (shards == nil || shards[n]):
		default:
			continue
		}
		names = append(names, n)
	}
	return names, nil
}

// hashFile adds a file's name and size to h, and its bytes: all of a JSON
// file's, a weight file's first and last MiB.
func hashFile(h io.Writer, fsys fs.FS, name string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	fmt.Fprintf(h, "%s %d\n", name, st.Size())
	const part = 1 << 20
	if strings.HasSuffix(name, ".json") || st.Size() <= 2*part {
		_, err = io.Copy(h, f)
		return err
	}
	if _, err := io.CopyN(h, f, part); err != nil {
		return err
	}
	s, ok := f.(io.Seeker)
	if !ok {
		return nil
	}
	if _, err := s.Seek(-part, io.SeekEnd); err != nil {
		return err
	}
	_, err = io.Copy(h, f)
	return err
}
