package quant

import (
	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// Layout lists the tensors that store one parameter under a resolved spec:
// the parameter itself (kept, maybe cast) or its codes, scales and zero
// points (named and shaped as package grid says) and the method's auxiliary
// tensors. `plan` sums these bytes and `quantize` writes exactly these
// tensors.
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
	if s.Method == GGMLMethod {
		rb, _ := s.GGMLType.RowBytes(int64(cols))
		return []safetensors.TensorSpec{{Name: a.Param.Name + GGMLBlocksSuffix, DType: safetensors.U8, Shape: []int64{int64(rows), rb}}}
	}
	scaleRows, groups := grid.ScaleGrid(s.Granularity, rows, cols)
	out := []safetensors.TensorSpec{
		{Name: a.Param.Name + grid.CodesSuffix, DType: safetensors.U8, Shape: []int64{int64(rows), int64(grid.PackedBytes(cols, s.Bits))}},
		{Name: a.Param.Name + grid.ScalesSuffix, DType: s.ScaleDType, Shape: []int64{int64(scaleRows), int64(groups)}},
	}
	if !s.Symmetric {
		out = append(out, safetensors.TensorSpec{Name: a.Param.Name + grid.ZerosSuffix, DType: safetensors.U8, Shape: []int64{int64(scaleRows), int64(grid.PackedBytes(groups, s.Bits))}})
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

func int64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}
