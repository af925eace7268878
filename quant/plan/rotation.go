package plan

import (
	"fmt"

	"github.com/hyquant/hyquant/internal/yamlx"
	"github.com/hyquant/hyquant/quant"
	"github.com/hyquant/hyquant/quant/rotation"
	"github.com/hyquant/hyquant/runtime"
)

// parseRotation reads a plan's residual_rotation field: a kind
// (`residual_rotation: hadamard`) or a mapping {kind, seed, dtype}.
func parseRotation(n yamlx.Node) (*rotation.Options, error) {
	o := &rotation.Options{Kind: rotation.Auto}
	if n.IsScalar() {
		kind, err := n.Text()
		if err != nil {
			return nil, err
		}
		o.Kind = kind
	} else {
		m, err := n.Map()
		if err != nil {
			return nil, err
		}
		if o.Kind, err = m.String("kind", rotation.Auto); err != nil {
			return nil, err
		}
		seed, err := m.Int("seed", 0)
		if err != nil {
			return nil, err
		}
		o.Seed = int64(seed)
		if dt, ok := m.Get("dtype"); ok {
			s, err := dt.Text()
			if err != nil {
				return nil, err
			}
			if o.DType, err = quant.ParseFloatDType(s); err != nil {
				return nil, dt.Errorf("residual_rotation dtype: %v", err)
			}
		}
		if err := m.Done("kind", "seed", "dtype"); err != nil {
			return nil, err
		}
	}
	switch o.Kind {
	case rotation.Hadamard, rotation.Orthogonal, rotation.Auto:
		return o, nil
	}
	return nil, n.Errorf("residual_rotation kind %q is not %s, %s or %s", o.Kind, rotation.Hadamard, rotation.Orthogonal, rotation.Auto)
}

// Rotate applies the plan's residual rotation to a float checkpoint: the
// rotated checkpoint when the plan has one, ck itself otherwise. Rotate
// takes ck over: the result owns its files, and ck is closed if the
// rotation fails. Calibration, quantisation and the written model must all
// read the rotated tensors.
func (p *Plan) Rotate(ck *runtime.Checkpoint, cfg *runtime.Config) (*runtime.Checkpoint, error) {
	if p.Rotation == nil {
		return ck, nil
	}
	r, _, err := rotation.Fuse(ck, cfg, *p.Rotation)
	if err != nil {
		ck.Close()
		return nil, fmt.Errorf("plan %s: %w", p.Name, err)
	}
	return r, nil
}

// rotationYAML is the plan-file form of a rotation.
func rotationYAML(o *rotation.Options) string {
	s := fmt.Sprintf("{kind: %s, seed: %d", o.Kind, o.Seed)
	if o.DType != "" {
		s += ", dtype: " + quant.FloatDTypeName(o.DType)
	}
	return s + "}"
}
