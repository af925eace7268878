//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// hasAVX2 reports AVX2 with FMA3 and F16C, with OS support for the YMM state.
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C && cpu.X86.HasOSXSAVE

// hasAVX512 reports AVX-512 F, BW, VL and DQ with OS support for the ZMM and
// mask state (x/sys/cpu checks XCR0 for HasAVX512).
var hasAVX512 = hasAVX2 && cpu.X86.HasAVX512 && cpu.X86.HasAVX512F &&
	cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512DQ
