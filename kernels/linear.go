package kernels

// Linear is a linear map y = x·Wᵀ (+ bias) applied to a batch of row vectors.
// W has Out() rows and In() columns (the PyTorch nn.Linear layout).
type Linear interface {
	In() int
	Out() int
	// Apply computes y[n×Out] = x[n×In]·Wᵀ (+ bias). x and y are row-major
	// and must not overlap; y is overwritten.
	Apply(y, x []float32, n int)
}
