//go:build purego || !amd64

package kernels

func gemvAvailable() bool { return false }

func gemvF32(k int, w, x *[4]*float32, res *[16]float32) { panic("kernels: no GEMV kernel") }

func gemvHalf(k int, w *[4]*byte, x *[4]*float32, res *[16]float32, fp16 bool) {
	panic("kernels: no GEMV kernel")
}

func dequantRowAsm(dst []float32, q *QMatrix, r, p0 int) bool { return false }
