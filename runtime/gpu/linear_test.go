package gpu

import (
	"strings"
	"testing"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/runtime"
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

// TestLinearsByName: every projection slot of the mini names the device
// copy of its own block and kind (checked against the slot's category),
// lm_head included. Runs without a GPU (only the blocks' addresses).
func TestLinearsByName(t *testing.T) {
	l, err := runtime.OpenModel(miniDir, runtime.WeightsMapped)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := l.Model
	g := &Model{blocks: make([]block, len(m.Blocks))}
	byName := g.linearsByName(m)
	slots := m.Linears()
	if len(byName) != len(slots) {
		t.Fatalf("%d names for %d projection slots", len(byName), len(slots))
	}
	for _, sl := range slots {
		var want *linear
		if sl.Layer < 0 {
			want = &g.head
		} else {
			b := &g.blocks[sl.Layer]
			want = map[runtime.Category]*linear{runtime.SSMInProj: &b.inProj, runtime.SSMOutProj: &b.outProj, runtime.MLPUp: &b.up, runtime.MLPDown: &b.down,
				runtime.AttnQ: &b.q, runtime.AttnK: &b.k, runtime.AttnV: &b.v, runtime.AttnO: &b.o}[sl.Category]
		}
		if want == nil || byName[sl.Name] != want {
			t.Errorf("%s (layer %d, %s) maps to the wrong device projection", sl.Name, sl.Layer, sl.Category)
		}
	}
}
