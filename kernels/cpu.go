package kernels

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
)

// An ISA names an instruction-set level the kernels can run at.
type ISA int

// Instruction-set levels, slowest first.
const (
	// Portable is pure Go, the only level under the purego build tag or on
	// architectures other than amd64.
	Portable ISA = iota
	// AVX2 uses 256-bit AVX2 and FMA3 instructions.
	AVX2
	// AVX512 uses 512-bit AVX-512 F/BW/VL instructions.
	AVX512
)

// String returns the level's name as accepted by HYQUANT_ISA.
func (i ISA) String() string {
	switch i {
	case Portable:
		return "portable"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("ISA(%d)", int(i))
}

// bestISA is the fastest level this CPU and build support; it is set once at
// package initialisation from CPU feature detection (see hasAVX2 and
// hasAVX512 in the per-architecture files).
var bestISA = detectISA()

// activeISA is the level the kernels currently run at.
var activeISA atomic.Int32

func init() {
	isa := bestISA
	if s := os.Getenv("HYQUANT_ISA"); s != "" {
		for _, c := range []ISA{Portable, AVX2, AVX512} {
			if c.String() == s && c <= bestISA {
				isa = c
			}
		}
	}
	activeISA.Store(int32(isa))
}

func detectISA() ISA {
	switch {
	case hasAVX512:
		return AVX512
	case hasAVX2:
		return AVX2
	}
	return Portable
}

// CurrentISA reports the instruction-set level the kernels run at: the best
// one the CPU supports, unless lowered by SetISA or the HYQUANT_ISA
// environment variable ("portable", "avx2", "avx512") read at start-up.
func CurrentISA() ISA { return ISA(activeISA.Load()) }

// BestISA reports the fastest instruction-set level this CPU and build
// support.
func BestISA() ISA { return bestISA }

// SetISA makes the kernels run at level isa (clamped to BestISA) and returns
// the previous level. It is meant for tests and benchmarks comparing code
// paths; a Dense built before the change keeps the kernel it packed its
// weights for.
func SetISA(isa ISA) (previous ISA) {
	if isa > bestISA {
		isa = bestISA
	}
	if isa < Portable {
		isa = Portable
	}
	return ISA(activeISA.Swap(int32(isa)))
}

// maxThreads caps the goroutines one kernel call uses; 0 means GOMAXPROCS.
var maxThreads atomic.Int32

// SetThreads caps the number of goroutines a single GEMM or transform uses
// (n <= 0 restores the default, GOMAXPROCS) and returns the previous cap.
// Callers that already run several kernels in parallel can set it to 1.
func SetThreads(n int) (previous int) {
	if n < 0 {
		n = 0
	}
	return int(maxThreads.Swap(int32(n)))
}

// threads is the number of goroutines a kernel call may use.
func threads() int {
	t := runtime.GOMAXPROCS(0)
	if c := int(maxThreads.Load()); c > 0 && c < t {
		t = c
	}
	return t
}
