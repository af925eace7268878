package ckpt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/hyquant/hyquant/kernels/ggml"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// ManifestFile names the manifest of a quantised checkpoint directory.
const ManifestFile = "hyquant_quant.json"

// ManifestFormat identifies hyquant's quantised checkpoint format.
const ManifestFormat = "hyquant-quantized"

// Manifest describes a quantised checkpoint: for every parameter of the
// model, how it is stored (kept, or codes + scales [+ zeros] [+ transform])
// and which tensors hold it.
type Manifest struct {
	Format      string            `json:"format"`
	Version     int               `json:"version"`
	SourceModel string            `json:"source_model"`
	Plan        string            `json:"plan"`
	Categories  map[string]string `json:"categories"` // category -> precision
	TotalBytes  int64             `json:"total_tensor_bytes"`
	// GGUFFileType is the general.file_type of the llama.cpp recipe the
	// plan followed (0 when it followed none).
	GGUFFileType uint32           `json:"gguf_file_type,omitempty"`
	Tensors      []ManifestTensor `json:"tensors"`
}

// ManifestTensor is one parameter's storage.
type ManifestTensor struct {
	Name        string   `json:"name"`
	Category    string   `json:"category"`
	Shape       []int    `json:"shape"`
	Source      string   `json:"source_dtype"` // dtype of the original tensor
	Keep        bool     `json:"keep,omitempty"`
	KeepDType   string   `json:"keep_dtype,omitempty"`
	Method      string   `json:"method,omitempty"`
	Bits        int      `json:"bits,omitempty"`
	Granularity string   `json:"granularity,omitempty"`
	Symmetric   bool     `json:"symmetric,omitempty"`
	ScaleDType  string   `json:"scale_dtype,omitempty"`
	Transform   string   `json:"transform,omitempty"` // "", "hadamard" or "klt"
	Smooth      float64  `json:"smooth,omitempty"`    // smoothing strength; the divisors are stored
	ActBits     int      `json:"act_bits,omitempty"`
	ActMode     string   `json:"act_mode,omitempty"`
	ActScale    float32  `json:"act_scale,omitempty"` // static activation scale (act_mode tensor)
	GGMLType    string   `json:"ggml_type,omitempty"` // method ggml: llama.cpp's block type
	Imatrix     bool     `json:"imatrix,omitempty"`   // method ggml: importance-weighted
	Parts       []string `json:"parts"`               // the stored tensors, in order
}

// manifestEntry records an assignment (and its quantisation result, which
// supplies the transform kind and static activation scale).
func manifestEntry(a quant.Assignment, q *quant.Quantized, actScale float32) ManifestTensor {
	s := a.Spec
	t := ManifestTensor{Name: a.Param.Name, Category: string(a.Param.Category), Shape: a.Param.Shape, Source: string(a.Stored)}
	if s.Keep {
		t.Keep = true
		t.KeepDType = string(s.KeepDType)
	} else if s.Method == quant.GGMLMethod {
		t.Method, t.GGMLType, t.Imatrix = s.Method, s.GGMLType.String(), s.Imatrix
	} else {
		t.Method, t.Bits, t.Granularity, t.Symmetric, t.ScaleDType = s.Method, s.Bits, s.Granularity.String(), s.Symmetric, string(s.ScaleDType)
		if q != nil && q.Transform != nil {
			t.Transform = q.Transform.Kind
		}
		t.Smooth = s.Smooth
		t.ActBits, t.ActMode, t.ActScale = s.ActBits, s.ActMode, actScale
	}
	for _, p := range quant.Layout(a) {
		t.Parts = append(t.Parts, p.Name)
	}
	return t
}

// assignment rebuilds the Assignment a manifest entry describes, checking
// every field, so the stored tensors can be checked against Layout.
func (t ManifestTensor) assignment(inv *runtime.Inventory) (quant.Assignment, error) {
	fail := func(format string, args ...any) (quant.Assignment, error) {
		return quant.Assignment{}, fmt.Errorf("manifest entry %q: %s", t.Name, fmt.Sprintf(format, args...))
	}
	p, ok := inv.Lookup(t.Name)
	if !ok {
		return fail("not a parameter of this model's config")
	}
	if !slices.Equal(p.Shape, t.Shape) {
		return fail("shape %v, but the config implies %v", t.Shape, p.Shape)
	}
	src := safetensors.DType(t.Source)
	if !src.IsFloat() {
		return fail("source_dtype %q is not BF16, F16 or F32", t.Source)
	}
	var s quant.Spec
	if t.Keep {
		s = quant.KeepSpec
		if t.KeepDType != "" {
			d := safetensors.DType(t.KeepDType)
			if !d.IsFloat() {
				return fail("keep_dtype %q is not BF16, F16 or F32", t.KeepDType)
			}
			s.KeepDType = d
		}
	} else if t.Method == quant.GGMLMethod {
		typ, err := ggml.ParseType(t.GGMLType)
		if err != nil {
			return fail("ggml_type: %v", err)
		}
		s = quant.Spec{Method: quant.GGMLMethod, GGMLType: typ, Imatrix: t.Imatrix}
		if err := (quant.GGML{}).Prepare(&s); err != nil {
			return fail("%v", err)
		}
	} else {
		m, ok := quant.Lookup(t.Method)
		if !ok {
			return fail("unknown method %q (known: %v)", t.Method, quant.MethodNames())
		}
		g, err := grid.ParseGranularity(t.Granularity)
		if err != nil {
			return fail("granularity: %v", err)
		}
		sd := safetensors.DType(t.ScaleDType)
		if !sd.IsFloat() {
			return fail("scale_dtype %q is not BF16, F16 or F32", t.ScaleDType)
		}
		if err := quant.CheckBits(t.Bits, 2, 8); err != nil {
			return fail("%v", err)
		}
		s = quant.Spec{Method: m.Name(), Bits: t.Bits, Granularity: g, Symmetric: t.Symmetric, ScaleDType: sd, ActBits: t.ActBits, ActMode: t.ActMode}
		if t.Transform != "" {
			if t.Transform != "hadamard" && t.Transform != "klt" {
				return fail("transform %q is not hadamard or klt", t.Transform)
			}
			s.Rotation = t.Transform
		}
		if t.Smooth < 0 || t.Smooth > 1 {
			return fail("smooth %g is outside [0, 1]", t.Smooth)
		}
		s.Smooth = t.Smooth
		if err := quant.CheckActivation(&s); err != nil {
			return fail("%v", err)
		}
		if t.ActScale < 0 {
			return fail("act_scale %v is negative", t.ActScale)
		}
	}
	rows, cols := grid.MatrixShape(p.Shape)
	if g := s.Granularity; !s.Keep && g.Kind == grid.PerGroup && cols%g.GroupSize != 0 {
		return fail("group size %d does not divide %d", g.GroupSize, cols)
	}
	a := quant.Assignment{Param: p, Stored: src, Spec: s, Rows: rows, Cols: cols}
	want := quant.Layout(a)
	if len(want) != len(t.Parts) {
		return fail("lists %d stored tensors %v, its spec stores %d", len(t.Parts), t.Parts, len(want))
	}
	for i, w := range want {
		if t.Parts[i] != w.Name {
			return fail("stored tensor %d is %q, its spec stores %q", i, t.Parts[i], w.Name)
		}
	}
	return a, nil
}

// ReadManifest reads and checks a quantised checkpoint's manifest.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("%s: format %q is not %q", path, m.Format, ManifestFormat)
	}
	if m.Version != 1 {
		return nil, fmt.Errorf("%s: version %d is not supported (this hyquant reads version 1)", path, m.Version)
	}
	return &m, nil
}
