package runtime

import "github.com/hyquant/hyquant/kernels"

// Observer sees the input of every linear layer during a forward pass:
// calibration statistics (X^T X, absmax, covariance) and per-layer error
// measurements are Observers, not branches inside the model code.
type Observer interface {
	// ObserveLinearInput is called with the rows×cols input matrix of the
	// linear layer whose weight is named name, before the layer runs. x must
	// not be modified or retained.
	ObserveLinearInput(name string, x []float32, rows, cols int)
}

// LinearSlot is a replaceable linear layer of a model: quantizers swap the
// kernels.Linear it points at for a packed or rotated one.
type LinearSlot struct {
	Name     string // the weight's tensor name, e.g. backbone.layers.0.mixer.in_proj.weight
	Category Category
	Layer    int
	Ptr      *kernels.Linear
}
