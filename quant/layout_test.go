package quant

import (
	"testing"

	"github.com/hyquant/hyquant/quant/grid"
	"github.com/hyquant/hyquant/runtime"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

func assignment(shape []int, s Spec) Assignment {
	r, c := grid.MatrixShape(shape)
	return Assignment{Param: runtime.Param{Name: "w", Shape: shape, Matrix: len(shape) == 2}, Stored: safetensors.BF16, Spec: s, Rows: r, Cols: c}
}

// Hand-computed byte counts: codes are bit-packed per row, scales one per
// group, zero points bit-packed per scale row.
func TestLayoutBytesHandComputed(t *testing.T) {
	g := func(n int) grid.Granularity { return grid.Granularity{Kind: grid.PerGroup, GroupSize: n} }
	ch := grid.Granularity{Kind: grid.PerChannel}
	cases := []struct {
		name  string
		shape []int
		spec  Spec
		want  int64
	}{
		// 3 rows x 256: codes 3*128, scales 3*2 groups*2 bytes.
		{"4-bit g128 sym fp16", []int{3, 256}, Spec{Method: "rtn", Bits: 4, Granularity: g(128), Symmetric: true, ScaleDType: safetensors.F16}, 384 + 12},
		// + zero points: 2 groups * 4 bits = 1 byte per row.
		{"4-bit g128 asym fp16", []int{3, 256}, Spec{Method: "rtn", Bits: 4, Granularity: g(128), ScaleDType: safetensors.F16}, 384 + 12 + 3},
		// 3 bits: 256*3/8 = 96 bytes a row; 4 groups of 64 -> 12 bits of zeros -> 2 bytes a row; fp32 scales.
		{"3-bit g64 asym fp32", []int{3, 256}, Spec{Method: "rtn", Bits: 3, Granularity: g(64), ScaleDType: safetensors.F32}, 3*96 + 3*4*4 + 3*2},
		// 5 cols at 3 bits = 15 bits -> 2 bytes a row.
		{"3-bit odd cols", []int{2, 5}, Spec{Method: "rtn", Bits: 3, Granularity: ch, Symmetric: true, ScaleDType: safetensors.F16}, 2*2 + 2*2},
		{"8-bit channel", []int{10, 7}, Spec{Method: "channel8", Bits: 8, Granularity: ch, Symmetric: true, ScaleDType: safetensors.F16}, 70 + 20},
		{"8-bit tensor asym bf16", []int{10, 7}, Spec{Method: "rtn", Bits: 8, Granularity: grid.Granularity{Kind: grid.PerTensor}, ScaleDType: safetensors.BF16}, 70 + 2 + 1},
		// A vector is one row: one scale for per-channel.
		{"vector channel8", []int{512}, Spec{Method: "channel8", Bits: 8, Granularity: ch, Symmetric: true, ScaleDType: safetensors.F16}, 512 + 2},
		// conv1d [C, 1, K] is C rows of K.
		{"conv1d channel8", []int{1024, 1, 4}, Spec{Method: "channel8", Bits: 8, Granularity: ch, Symmetric: true, ScaleDType: safetensors.F16}, 4096 + 2048},
		{"keep", []int{4, 4}, KeepSpec, 32},
		{"keep fp32", []int{4, 4}, Spec{Keep: true, KeepDType: safetensors.F32}, 64},
	}
	for _, c := range cases {
		if got := LayoutBytes(assignment(c.shape, c.spec)); got != c.want {
			t.Errorf("%s: %d bytes, want %d (%v)", c.name, got, c.want, Layout(assignment(c.shape, c.spec)))
		}
	}
}
