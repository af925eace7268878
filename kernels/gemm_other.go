//go:build purego || !amd64

package kernels

func transposeAsm(dst []float32, nr int, src []float32, lds, w, kc int) bool { return false }

func packHalfAsm(dst []float32, nr int, src []byte, lds, w, kc int, fp16 bool) int { return 0 }

func packQuantAsm(dst []float32, nr int, q *QMatrix, j0, w, p0, kc int) int { return 0 }
