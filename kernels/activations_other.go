//go:build purego || !amd64

package kernels

// Without assembly the scalar loops of activations.go do all the work.

func expShiftVec(x []float32, shift float32) (sum float32, done int) { return 0, 0 }
func expSum64Vec(x []float32, shift float32) (sum float64, done int) { return 0, 0 }
func maxVec(x []float32) (m float32, done int)                       { return negInf32, 0 }
func siluVec(x []float32) (done int)                                 { return 0 }
func siluMulVec(x, gate []float32) (done int)                        { return 0 }
func relu2Vec(x []float32) (done int)                                { return 0 }
func scaleVec(x []float32, s float32) (done int)                     { return 0 }
