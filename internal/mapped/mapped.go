// Package mapped memory-maps a whole file read-only, the one way the model
// file readers (safetensors, GGUF) open their files.
package mapped

import (
	"fmt"
	"os"

	mmap "github.com/edsrzf/mmap-go"
)

// TooShort is returned (wrapped in the caller's error) for a file under
// the minimum size; Size is its size.
type TooShort struct{ Size int64 }

func (e *TooShort) Error() string { return fmt.Sprintf("file is %d bytes", e.Size) }

// Open maps the file at path, which must hold at least minSize bytes; it
// returns *TooShort for a shorter file.
func Open(path string, minSize int64) (mmap.MMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() < minSize {
		return nil, &TooShort{Size: st.Size()}
	}
	m, err := mmap.Map(f, mmap.RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: memory-mapping: %w", path, err)
	}
	return m, nil
}
