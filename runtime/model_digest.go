package runtime

import (
	"crypto/sha256"
	"encoding/hex"
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
		ents, err := fs.ReadDir(fsys, ".")
		if err != nil {
			return "", err
		}
		for _, e := range ents {
			switch path.Ext(e.Name()) {
			case ".json", ".safetensors", ".gguf":
				if e.Type().IsRegular() {
					names = append(names, e.Name())
				}
			}
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
