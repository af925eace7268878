package grid

// Names of the stored parts of a quantised tensor W: W.codes, W.scales and,
// when asymmetric, W.zeros (plus any tensors the method adds, see
// quant.Method.Aux).
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

// PackedBytes is the size of n codes of the given width packed as a bit
// stream padded to a whole byte.
func PackedBytes(n, bits int) int { return (n*bits + 7) / 8 }
