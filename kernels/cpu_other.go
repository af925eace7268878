//go:build purego || !amd64

package kernels

// Without amd64 assembly only the portable Go kernels exist.
const (
	hasAVX2   = false
	hasAVX512 = false
)
