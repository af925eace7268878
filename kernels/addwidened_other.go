//go:build purego || !amd64

package kernels

func addWidened64Vec(y []float64, x []float32) (done int) { return 0 }
