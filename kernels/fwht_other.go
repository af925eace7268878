//go:build purego || !amd64

package kernels

func fwhtAsm(x []float32, scale float32) bool { return false }
