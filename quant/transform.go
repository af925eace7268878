package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/hyquant/hyquant/kernels"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// The input transform of a rotated layer (type Transform, quantizer.go):
//
//	T(x) = R·(x ⊘ s)
//
// with s the optional smoothing divisors and R orthogonal: R = H_bd·diag(signs)
// for "hadamard" (H_bd the block-diagonal orthonormal Sylvester Hadamard of
// block kernels.HadamardBlockSize(cols)), or a dense matrix for "klt". The
// weight that sees T(x) is W' = W·diag(s)·Rᵀ, so W'·T(x) = W·x.

// Rotation kinds.
const (
	RotationHadamard = "hadamard"
	RotationKLT      = "klt"
)

// Names of the tensors a transform is stored in, appended to the weight's
// name: W.rotation_signs, W.rotation (KLT only), W.smooth (smoothing only).
const (
	RotationSignsSuffix = ".rotation_signs"
	RotationSuffix      = ".rotation"
	SmoothSuffix        = ".smooth"
)

// AuxTensor is one tensor a method stores beside a weight's codes.
type AuxTensor struct {
	Spec safetensors.TensorSpec
	Data []byte // little-endian, Spec.Bytes() long
}

// Cols is the width of the vectors the transform maps.
func (t *Transform) Cols() int { return len(t.Signs) }

// Validate reports a transform that is inconsistent for vectors of width cols.
func (t *Transform) Validate(cols int) error {
	if cols <= 0 {
		return fmt.Errorf("transform width %d is not positive", cols)
	}
	if len(t.Signs) != cols {
		return fmt.Errorf("transform has %d signs for width %d", len(t.Signs), cols)
	}
	for i, v := range t.Signs {
		if v != 1 && v != -1 {
			return fmt.Errorf("transform sign %d is %v, want ±1", i, v)
		}
	}
	if t.Smooth != nil {
		if len(t.Smooth) != cols {
			return fmt.Errorf("transform has %d smoothing divisors for width %d", len(t.Smooth), cols)
		}
		for i, v := range t.Smooth {
			if !(v > 0) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("transform smoothing divisor %d is %v, want a positive finite value", i, v)
			}
		}
	}
	switch t.Kind {
	case RotationHadamard:
		if t.Block != kernels.HadamardBlockSize(cols) {
			return fmt.Errorf("hadamard transform of width %d has block %d, want %d", cols, t.Block, kernels.HadamardBlockSize(cols))
		}
	case RotationKLT:
		if len(t.Matrix) != cols*cols {
			return fmt.Errorf("klt transform of width %d has a %d-value matrix, want %d×%d", cols, len(t.Matrix), cols, cols)
		}
	default:
		return fmt.Errorf("transform kind %q is not %s or %s", t.Kind, RotationHadamard, RotationKLT)
	}
	return nil
}

// Apply writes T(x) for each of the n rows of x (n×cols, row-major) into
// the rows of dst. dst and x must not overlap.
func (t *Transform) Apply(dst, x []float32, n, cols int) {
	if len(x) < n*cols || len(dst) < n*cols || len(t.Signs) != cols {
		panic(fmt.Sprintf("quant.Transform.Apply: %d rows of %d need %d values (x has %d, dst %d); the transform is %d wide",
			n, cols, n*cols, len(x), len(dst), len(t.Signs)))
	}
	x, dst = x[:n*cols], dst[:n*cols]
	switch t.Kind {
	case RotationHadamard:
		for r := 0; r < n; r++ {
			xr, dr := x[r*cols:(r+1)*cols], dst[r*cols:(r+1)*cols]
			if t.Smooth != nil {
				for c, v := range xr {
					dr[c] = v / t.Smooth[c] * t.Signs[c]
				}
			} else {
				for c, v := range xr {
					dr[c] = v * t.Signs[c]
				}
			}
		}
		kernels.FWHTRows(dst, n*cols/t.Block, t.Block)
	case RotationKLT:
		src := x
		if t.Smooth != nil {
			buf := getScratch(n * cols)
			defer putScratch(buf)
			src = *buf
			for i, v := range x {
				src[i] = v / t.Smooth[i%cols]
			}
		}
		// Rows of T(x) are rows of (x⊘s)·Rᵀ.
		kernels.MatMulNT(dst, src, t.Matrix, n, cols, cols)
	default:
		panic("quant.Transform.Apply: unknown kind " + t.Kind)
	}
}

// RotateWeights returns W' = W·diag(s)·Rᵀ for a rows×cols weight W: each
// row w becomes R·(w ∘ s), so that W'·T(x) = W·x.
func (t *Transform) RotateWeights(w []float32, rows, cols int) []float32 {
	scaled := make([]float32, rows*cols)
	for i, v := range w[:rows*cols] {
		if t.Smooth != nil {
			v *= t.Smooth[i%cols]
		}
		scaled[i] = v
	}
	out := make([]float32, rows*cols)
	t.rotate(out, scaled, rows, cols)
	return out
}

// rotate writes the rows of x·Rᵀ (each row multiplied by R, no smoothing).
func (t *Transform) rotate(dst, x []float32, n, cols int) {
	u := *t
	u.Smooth = nil
	u.Apply(dst, x, n, cols)
}

// Rotation returns R as a dense row-major cols×cols float64 matrix.
func (t *Transform) Rotation() []float64 {
	cols := t.Cols()
	// The rows of I·Rᵀ are the rows of Rᵀ.
	id := make([]float64, cols*cols)
	for i := 0; i < cols; i++ {
		id[i*cols+i] = 1
	}
	t.rotateRows64(id, cols, cols)
	transposeSquare(id, cols)
	return id
}

// RotateGram maps a Gram matrix of the inputs (XᵀX or a Hessian 2/n·XᵀX,
// cols×cols, row-major) into the transformed input space, in place:
// G ← R·diag(1/s)·G·diag(1/s)·Rᵀ, the Gram matrix of T(x). It works in
// float64 and leaves G exactly symmetric.
func (t *Transform) RotateGram(g []float64, cols int) {
	if t.Smooth != nil {
		for i := 0; i < cols; i++ {
			for j := 0; j < cols; j++ {
				g[i*cols+j] /= float64(t.Smooth[i]) * float64(t.Smooth[j])
			}
		}
	}
	t.rotateRows64(g, cols, cols) // G·Rᵀ
	transposeSquare(g, cols)      // R·Gᵀ = R·G (G symmetric)
	t.rotateRows64(g, cols, cols) // R·G·Rᵀ
	for i := 0; i < cols; i++ {
		for j := i + 1; j < cols; j++ {
			v := (g[i*cols+j] + g[j*cols+i]) / 2
			g[i*cols+j], g[j*cols+i] = v, v
		}
	}
}

// rotateRows64 replaces each row v of the row-major n×cols matrix m by R·v,
// in float64 (no smoothing).
func (t *Transform) rotateRows64(m []float64, n, cols int) {
	switch t.Kind {
	case RotationHadamard:
		for r := 0; r < n; r++ {
			row := m[r*cols : (r+1)*cols]
			for c := range row {
				row[c] *= float64(t.Signs[c])
			}
			for b := 0; b < cols; b += t.Block {
				fwht64(row[b : b+t.Block])
			}
		}
	case RotationKLT:
		rot := mat.NewDense(cols, cols, widen(t.Matrix))
		src := mat.NewDense(n, cols, append([]float64(nil), m...))
		var out mat.Dense
		out.Mul(src, rot.T())
		copy(m, out.RawMatrix().Data)
	default:
		panic("quant.Transform: unknown kind " + t.Kind)
	}
}

// fwht64 is the orthonormal Walsh-Hadamard transform of x (length a power
// of two) in float64, the same matrix as kernels.FWHT.
func fwht64(x []float64) {
	n := len(x)
	for h := 1; h < n; h *= 2 {
		for i := 0; i < n; i += 2 * h {
			for j := i; j < i+h; j++ {
				a, b := x[j], x[j+h]
				x[j], x[j+h] = a+b, a-b
			}
		}
	}
	s := 1 / math.Sqrt(float64(n))
	for i := range x {
		x[i] *= s
	}
}

func transposeSquare(m []float64, n int) {
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			m[i*n+j], m[j*n+i] = m[j*n+i], m[i*n+j]
		}
	}
}

// Tensors returns the tensors a checkpoint stores for t, named after the
// weight (base): base+".rotation_signs" (I8 [cols]), base+".rotation" (F32
// [cols, cols], KLT only) and base+".smooth" (F32 [cols], only when
// smoothing).
func (t *Transform) Tensors(base string) []AuxTensor {
	specs := transformSpecs(base, t.Kind, t.Cols(), t.Smooth != nil)
	out := make([]AuxTensor, len(specs))
	for i, sp := range specs {
		out[i].Spec = sp
		switch sp.Name {
		case base + RotationSignsSuffix:
			out[i].Data = make([]byte, len(t.Signs))
			for c, v := range t.Signs {
				out[i].Data[c] = byte(int8(v))
			}
		case base + RotationSuffix:
			out[i].Data = float32Bytes(t.Matrix)
		case base + SmoothSuffix:
			out[i].Data = float32Bytes(t.Smooth)
		}
	}
	return out
}

// transformSpecs lists the tensors of a transform of the given kind and
// width; Tensors and MambaQuant.Aux both use it, so they cannot disagree.
func transformSpecs(base, kind string, cols int, smooth bool) []safetensors.TensorSpec {
	out := []safetensors.TensorSpec{{Name: base + RotationSignsSuffix, DType: safetensors.I8, Shape: []int64{int64(cols)}}}
	if kind == RotationKLT {
		out = append(out, safetensors.TensorSpec{Name: base + RotationSuffix, DType: safetensors.F32, Shape: []int64{int64(cols), int64(cols)}})
	}
	if smooth {
		out = append(out, safetensors.TensorSpec{Name: base + SmoothSuffix, DType: safetensors.F32, Shape: []int64{int64(cols)}})
	}
	return out
}

// DecodeTransform rebuilds a transform of the given kind and width from its
// stored tensors; get returns a tensor's raw bytes by name, false when the
// checkpoint lacks it. The smoothing tensor is optional (absent: no
// smoothing); the others are required.
func DecodeTransform(kind, base string, cols int, get func(name string) ([]byte, bool)) (*Transform, error) {
	if kind != RotationHadamard && kind != RotationKLT {
		return nil, fmt.Errorf("%s: rotation kind %q is not %s or %s", base, kind, RotationHadamard, RotationKLT)
	}
	if cols <= 0 {
		return nil, fmt.Errorf("%s: transform width %d is not positive", base, cols)
	}
	t := &Transform{Kind: kind, Block: kernels.HadamardBlockSize(cols)}
	raw, ok := get(base + RotationSignsSuffix)
	if !ok {
		return nil, fmt.Errorf("%s: missing tensor %s (I8 [%d]) of the %s rotation", base, base+RotationSignsSuffix, cols, kind)
	}
	if len(raw) != cols {
		return nil, fmt.Errorf("%s: tensor %s has %d bytes, want %d (I8 [%d])", base, base+RotationSignsSuffix, len(raw), cols, cols)
	}
	t.Signs = make([]float32, cols)
	for i, b := range raw {
		v := int8(b)
		if v != 1 && v != -1 {
			return nil, fmt.Errorf("%s: tensor %s holds %d at %d, want ±1", base, base+RotationSignsSuffix, v, i)
		}
		t.Signs[i] = float32(v)
	}
	if kind == RotationKLT {
		raw, ok := get(base + RotationSuffix)
		if !ok {
			return nil, fmt.Errorf("%s: missing tensor %s (F32 [%d, %d]) of the klt rotation", base, base+RotationSuffix, cols, cols)
		}
		if len(raw) != 4*cols*cols {
			return nil, fmt.Errorf("%s: tensor %s has %d bytes, want %d (F32 [%d, %d])", base, base+RotationSuffix, len(raw), 4*cols*cols, cols, cols)
		}
		t.Matrix = bytesFloat32(raw)
	}
	if raw, ok := get(base + SmoothSuffix); ok {
		if len(raw) != 4*cols {
			return nil, fmt.Errorf("%s: tensor %s has %d bytes, want %d (F32 [%d])", base, base+SmoothSuffix, len(raw), 4*cols, cols)
		}
		t.Smooth = bytesFloat32(raw)
	}
	if err := t.Validate(cols); err != nil {
		return nil, fmt.Errorf("%s: %v", base, err)
	}
	return t, nil
}

func float32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func bytesFloat32(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}
