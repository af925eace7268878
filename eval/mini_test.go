package eval

import (
	"testing"

	"github.com/hyquant/hyquant/runtime"
)

// openMini loads the mini model with float32 weights for a test, skipping
// under -short; it is closed when the test ends.
func openMini(t *testing.T) *runtime.Loaded {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the mini model")
	}
	l, err := runtime.OpenModel("../models/nemotron-h-mini", runtime.WeightsFloat32)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
