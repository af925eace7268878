package runtime

import (
	"fmt"
	"maps"

	"github.com/hyquant/hyquant/runtime/safetensors"
)

// DerivedTensor is a tensor computed from a checkpoint's others when read
// (a rotated weight, a folded norm): its dtype and shape, the function
// that produces its little-endian bytes, and whether the bytes are kept
// after the first read (small models) or produced again at every read
// (large ones streamed tensor by tensor, whose derived copies would not
// fit in memory together).
type DerivedTensor struct {
	DType safetensors.DType
	Shape []int64
	Load  func() ([]byte, error)
	Keep  bool
}

// Derive returns a checkpoint with c's tensors, those named in replace
// produced by their DerivedTensor instead (a name that c lacks is an error).
// label says what was derived, for errors ("residual rotation"). The new
// checkpoint owns c's files: close it instead of c.
func (c *Checkpoint) Derive(label string, replace map[string]DerivedTensor) (*Checkpoint, error) {
	d := &Checkpoint{Dir: c.Dir, Files: c.Files, byName: maps.Clone(c.byName), gguf: c.gguf, ggufNames: maps.Clone(c.ggufNames)}
	for name, t := range replace {
		if _, ok := c.byName[name]; !ok {
			return nil, &CheckpointError{File: c.Dir, Msg: fmt.Sprintf("%s: checkpoint has no tensor %q", label, name)}
		}
		if !t.DType.Known() {
			return nil, &CheckpointError{File: c.Dir, Msg: fmt.Sprintf("%s: tensor %q has unknown dtype %q", label, name, t.DType)}
		}
		info := safetensors.TensorInfo{Name: name, DType: t.DType, Shape: t.Shape}
		info.End = info.NumElements() * int64(t.DType.Size())
		d.byName[name] = tensorRef{mem: &memTensor{info: info, file: c.Dir + " (" + label + ")", load: t.Load, transient: !t.Keep}}
		// A derived tensor is no longer the GGUF file's: its blocks must not
		// be passed through.
		delete(d.ggufNames, name)
	}
	return d, nil
}
