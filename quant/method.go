package quant

import (
	"fmt"
	"sort"

	"github.com/hyquant/hyquant/internal/finite"
	"github.com/hyquant/hyquant/internal/parallel"
	"github.com/hyquant/hyquant/runtime/safetensors"
)

// Method is a quantizer. A new method is one file that implements this and
// registers itself with Register.
type Method interface {
	// Name is the plan's `method:` value.
	Name() string
	// Summary is one line for --help and reports.
	Summary() string
	// Options lists the method-specific plan fields it accepts (for
	// example "damp", "act_order"); any other method option is an error.
	Options() []string
	// Prepare fills the method's defaults into a spec and checks its
	// constraints (bit widths, granularities, option ranges).
	Prepare(s *Spec) error
	// Aux lists tensors the method stores beside codes, scales and zeros
	// (for example a rotation's signs); nil for none. They must be exactly
	// the tensors the checkpoint writer stores for its Quantized.Transform.
	Aux(a Assignment) []safetensors.TensorSpec
	// NeedsCalibration reports whether Quantize needs input statistics for
	// a spec this method prepared (a Hadamard rotation with RTN rounding
	// needs none; KLT, smoothing and GPTQ do).
	NeedsCalibration(s Spec) bool
	// Quantize quantises one weight (a.Rows×a.Cols, row-major float32)
	// under a.Spec. st is nil for methods that need no calibration.
	Quantize(w []float32, a Assignment, st *Stats) (*Quantized, error)
}

// MatrixOnly is implemented by methods that quantise linear-layer weights
// only (they need the layer's input statistics or rotate its input space):
// a plan that gives such a method to a convolution, norm or embedding is
// rejected when it is resolved.
type MatrixOnly interface {
	MatrixOnly() bool
}

var registry = map[string]Method{}

// Register adds a method to the registry; it panics on a duplicate name,
// which is a programming error.
func Register(m Method) {
	if _, dup := registry[m.Name()]; dup {
		panic("quant: method registered twice: " + m.Name())
	}
	registry[m.Name()] = m
}

// Lookup finds a registered method.
func Lookup(name string) (Method, bool) {
	m, ok := registry[name]
	return m, ok
}

// MethodNames lists the registered methods, sorted.
func MethodNames() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// CheckBits validates a bit width against an allowed range.
func CheckBits(bits, lo, hi int) error {
	if bits < lo || bits > hi {
		return fmt.Errorf("bits %d is outside %d..%d", bits, lo, hi)
	}
	return nil
}

func errNotImplemented(method string) error {
	return fmt.Errorf("method %s: Quantize is not implemented yet", method)
}

// widen copies float32 weights into a new float64 slice.
func widen(w []float32) []float64 {
	out := make([]float64, len(w))
	parallel.For(len(w), scanChunk, func(lo, hi int) {
		for i, v := range w[lo:hi] {
			out[lo+i] = float64(v)
		}
	})
	return out
}

// scanChunk is the fewest values one worker of an elementwise pass takes.
const scanChunk = 1 << 18

// checkWeights reports a weight slice that does not match its assignment,
// or a value that is not finite.
func checkWeights(method string, w []float32, a Assignment) error {
	if a.Rows <= 0 || a.Cols <= 0 || len(w) != a.Rows*a.Cols {
		return fmt.Errorf("%s: %s: %d weights for a %d×%d matrix", method, a.Param.Name, len(w), a.Rows, a.Cols)
	}
	if i := finite.First(w); i >= 0 {
		return fmt.Errorf("%s: %s: weight (%d, %d) is %v", method, a.Param.Name, i/a.Cols, i%a.Cols, w[i])
	}
	return nil
}
