package quant

import (
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// Names of the stored parts of a quantised tensor W: W.codes, W.scales and,
// when asymmetric, W.zeros (plus any tensors the method adds, see Method.Aux).
const (
	CodesSuffix  = ".codes"
	ScalesSuffix = ".scales"
	ZerosSuffix  = ".zeros"
)

// MatrixShape views a tensor of any rank as a matrix: rows are the first
// dimension (output channels), columns everything else. A vector is one row.
func MatrixShape(shape []int) (rows, cols int) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(shape) < 2 {
		return 1, n
	}
	return shape[0], n / shape[0]
}

// ScaleGrid is the number of scale rows and scale groups per row of a
// quantised rows×cols matrix.
func ScaleGrid(g Granularity, rows, cols int) (scaleRows, groups int) {
	switch g.Kind {
	case PerTensor:
		return 1, 1
	case PerChannel:
		return rows, 1
	}
	return rows, cols / g.GroupSize
}

// Layout lists the tensors that store one parameter under a resolved spec:
// the parameter itself (kept, maybe cast) or its codes, scales and zero
// points and the method's auxiliary tensors. `plan` sums these bytes and
// `quantize` writes exactly these tensors.
func Layout(a Assignment) []safetensors.TensorSpec {
	s := a.Spec
	if s.Keep {
		d := a.Stored
		if s.KeepDType != "" {
			d = s.KeepDType
		}
		return []safetensors.TensorSpec{{Name: a.Param.Name, DType: d, Shape: int64s(a.Param.Shape)}}
	}
	rows, cols := a.Rows, a.Cols
	scaleRows, groups := ScaleGrid(s.Granularity, rows, cols)
	out := []safetensors.TensorSpec{
		{Name: a.Param.Name + CodesSuffix, DType: safetensors.U8, Shape: []int64{int64(rows), int64(packedBytes(cols, s.Bits))}},
		{Name: a.Param.Name + ScalesSuffix, DType: s.ScaleDType, Shape: []int64{int64(scaleRows), int64(groups)}},
	}
	if !s.Symmetric {
		out = append(out, safetensors.TensorSpec{Name: a.Param.Name + ZerosSuffix, DType: safetensors.U8, Shape: []int64{int64(scaleRows), int64(packedBytes(groups, s.Bits))}})
	}
	if m, ok := Lookup(s.Method); ok {
		out = append(out, m.Aux(a)...)
	}
	return out
}

// LayoutBytes is the total size of Layout(a).
func LayoutBytes(a Assignment) int64 {
	var n int64
	for _, t := range Layout(a) {
		n += t.Bytes()
	}
	return n
}

// packedBytes is the size of n codes of the given width packed as a bit
// stream padded to a whole byte.
func packedBytes(n, bits int) int { return (n*bits + 7) / 8 }

func int64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}
