package ckpt

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/runtime"
)

// ggufFileTypes is llama.cpp's general.file_type for a file mostly in one
// block type (its LLAMA_FTYPE_MOSTLY_* of that type's usual recipe).
var ggufFileTypes = map[ggml.Type]uint32{
	ggml.Q4_0: 2, ggml.Q4_1: 3, ggml.Q8_0: 7, ggml.Q5_0: 8, ggml.Q5_1: 9, ggml.Q2_K: 10, ggml.Q3_K: 12,
	ggml.Q4_K: 15, ggml.Q5_K: 17, ggml.Q6_K: 18, ggml.IQ4_NL: 25, ggml.IQ4_XS: 30,
}

// ExportGGUF writes a quantised checkpoint directory as a nemotron_h GGUF
// that llama.cpp runs: ggml blocks as they are, kept tensors as floats
// (F32 for the tensors GGUF keeps in F32). A checkpoint with anything GGUF
// cannot express (hyquant's group format, a rotation, activation
// quantisation) is refused, naming every such tensor and why.
func ExportGGUF(path string, mf *runtime.ModelFiles, o runtime.GGUFExportOptions) (*runtime.GGUFExportSummary, error) {
	man, err := ReadManifest(mf.Dir)
	if err != nil {
		return nil, err
	}
	ck, err := runtime.OpenCheckpointStream(mf.Dir) // pread: bounded memory for the 8B
	if err != nil {
		return nil, err
	}
	defer ck.Close()
	inv := runtime.BuildInventory(mf.Config)
	o.Blocks = map[string]runtime.GGUFBlocks{}
	bytesOf := map[ggml.Type]int64{}
	var problems []string
	for _, t := range man.Tensors {
		if why := notExportable(t); why != "" {
			problems = append(problems, fmt.Sprintf("%s: %s", t.Name, why))
			continue
		}
		if t.Method != quant.GGMLMethod {
			continue
		}
		a, err := t.assignment(inv)
		if err != nil {
			return nil, err
		}
		part := t.Name + quant.GGMLBlocksSuffix
		ti, ok := ck.Lookup(part)
		if !ok {
			return nil, fmt.Errorf("%s: no tensor %q", mf.Dir, part)
		}
		o.Blocks[t.Name] = runtime.GGUFBlocks{Type: a.Spec.GGMLType, Size: ti.Bytes(),
			ReadAt: func(off int64, dst []byte) error { return ck.ReadAt(part, off, dst) }}
		bytesOf[a.Spec.GGMLType] += ti.Bytes()
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("%s cannot be written as GGUF (%d tensors):\n  %s", mf.Dir, len(problems), strings.Join(problems, "\n  "))
	}
	if o.FileType == 0 {
		o.FileType = man.GGUFFileType
	}
	if o.FileType == 0 {
		var most ggml.Type
		for t, n := range bytesOf {
			if n > bytesOf[most] {
				most = t
			}
		}
		o.FileType = ggufFileTypes[most]
	}
	return runtime.ExportGGUF(path, mf, ck, o)
}

// notExportable says why a manifest entry has no GGUF form ("" if it has).
func notExportable(t ManifestTensor) string {
	switch {
	case t.Keep:
		return ""
	case t.ActBits > 0:
		return fmt.Sprintf("activation quantisation (act_bits %d) is applied at run time; GGUF stores weights only", t.ActBits)
	case t.Transform != "":
		return fmt.Sprintf("an online %s rotation of the layer's input has no GGUF form (use a rotation fused into the weights)", t.Transform)
	case t.Method != quant.GGMLMethod:
		return fmt.Sprintf("method %s stores hyquant's group format (%d-bit codes, %s scales), which is no ggml type; quantise it with method ggml", t.Method, t.Bits, t.ScaleDType)
	}
	return ""
}
