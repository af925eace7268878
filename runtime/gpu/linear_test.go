package gpu

import (
	"strings"
	"testing"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/quant"
)

// TestExactlyLinearRefusesActivationQuantisation: a projection that
// fake-quantises its input is not a linear map, so the device must refuse
// it (reading it off the identity would run another model), alone or
// inside a rotation; plain and rotated matrices pass. Runs without a GPU.
func TestExactlyLinearRefusesActivationQuantisation(t *testing.T) {
	w := make([]float32, 4*8)
	for i := range w {
		w[i] = float32(i%5) - 2
	}
	dense := kernels.NewDense(w, 4, 8, nil)
	act, err := quant.NewActQuantScale(dense, 8, quant.ActPerTensor, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	hadamard := &quant.Transform{Kind: quant.RotationHadamard, Signs: []float32{1, -1, 1, 1, -1, 1, -1, -1}, Block: kernels.HadamardBlockSize(8)}
	rotatedAct, err := quant.NewRotatedLinear(hadamard, act)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := quant.NewRotatedLinear(hadamard, dense)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		l    kernels.Linear
		ok   bool
	}{{"dense", dense, true}, {"rotated", rotated, true}, {"act8", act, false}, {"rotated act8", rotatedAct, false}} {
		err := exactlyLinear(c.l)
		if c.ok && err != nil {
			t.Errorf("%s: refused: %v", c.name, err)
		}
		if !c.ok && (err == nil || !strings.Contains(err.Error(), "activations to 8 bits")) {
			t.Errorf("%s: %v, want a refusal naming the activation quantisation", c.name, err)
		}
	}
}
