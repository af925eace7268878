package runtime

import (
	"fmt"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/runtime/gguf"
)

// ReadImatrix reads a llama.cpp importance-matrix GGUF (as llama-imatrix
// writes it) into per-column weights by GGUF tensor name, exactly as
// llama-quantize derives them.
func ReadImatrix(path string) (map[string][]float32, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		names[i] = t.Name
	}
	w, err := ggml.ImatrixFromGGUF(func(name string) ([]int64, ggml.Type, []byte, bool) {
		data, t, err := f.TensorData(name)
		if err != nil {
			return nil, 0, nil, false
		}
		return t.Dims, t.Type, data, true
	}, names)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(w) == 0 {
		return nil, fmt.Errorf("%s: no importance-matrix tensors (<name>.in_sum2 and <name>.counts)", path)
	}
	for k, v := range w {
		w[k] = append([]float32(nil), v...) // own the values: the file is closed
	}
	return w, nil
}
