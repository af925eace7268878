//go:build purego || !amd64

package kernels

// ssmScanVec reports false: the portable loops of scan.go do the work.
func ssmScanVec(S []float32, P, N, T int, x []float32, xs int, B, C []float32, bcs int, dA, dt []float32, ds int, D float32, y []float32, ys int) bool {
	return false
}
