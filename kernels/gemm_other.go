//go:build purego || !amd64

package kernels

// Without assembly every panel is packed by the portable loops.

func packT16(dst []float32, nr int, src []float32, lds, w, kc int) (rows, cols int) { return 0, 0 }

func packHalf16(dst []float32, nr int, src []byte, lds, w, kc int, fp16 bool) (rows, cols int) {
	return 0, 0
}

func packQuantAsm(dst []float32, nr int, q *QMatrix, j0, w, p0, kc int) int { return 0 }
