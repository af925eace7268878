//go:build !purego

#include "textflag.h"

// Vectorised float32 exponential and the activations built on it (see
// activations.go), AVX-512 and AVX2.
//
// exp(x) is Exp32's algorithm on 16 (8) lanes: n = floor(x·log2e + 0.5),
// r = x − n·c1 − n·c2 (Cody-Waite, c1 + c2 = ln 2), the same degree-6
// polynomial p(r) with exp(r) ≈ p(r)·r² + r + 1, then scaling by 2ⁿ
// (VSCALEFPS with AVX-512; an integer add of n to the exponent field with
// AVX2, exact because the result is normal on the range kept). The products
// and sums of the reduction and polynomial are fused multiply-adds, so the
// results may differ from Exp32's in the last bit. Lanes with x > hi become
// +Inf and lanes with x < lo become 0, exactly Exp32's cut-offs; NaN
// propagates through the arithmetic.
//
// The AVX-512 functions process all n elements, the last partial vector with
// masked (fault-suppressing) loads and stores. The AVX2 functions process
// n/8 whole vectors; their Go callers finish the tail.

// log2e
DATA expConsts<>+0(SB)/4, $0x3fb8aa3b
DATA expConsts<>+4(SB)/4, $0x3fb8aa3b
DATA expConsts<>+8(SB)/4, $0x3fb8aa3b
DATA expConsts<>+12(SB)/4, $0x3fb8aa3b
DATA expConsts<>+16(SB)/4, $0x3fb8aa3b
DATA expConsts<>+20(SB)/4, $0x3fb8aa3b
DATA expConsts<>+24(SB)/4, $0x3fb8aa3b
DATA expConsts<>+28(SB)/4, $0x3fb8aa3b
// 0.5
DATA expConsts<>+32(SB)/4, $0x3f000000
DATA expConsts<>+36(SB)/4, $0x3f000000
DATA expConsts<>+40(SB)/4, $0x3f000000
DATA expConsts<>+44(SB)/4, $0x3f000000
DATA expConsts<>+48(SB)/4, $0x3f000000
DATA expConsts<>+52(SB)/4, $0x3f000000
DATA expConsts<>+56(SB)/4, $0x3f000000
DATA expConsts<>+60(SB)/4, $0x3f000000
// c1 = 0.693359375
DATA expConsts<>+64(SB)/4, $0x3f318000
DATA expConsts<>+68(SB)/4, $0x3f318000
DATA expConsts<>+72(SB)/4, $0x3f318000
DATA expConsts<>+76(SB)/4, $0x3f318000
DATA expConsts<>+80(SB)/4, $0x3f318000
DATA expConsts<>+84(SB)/4, $0x3f318000
DATA expConsts<>+88(SB)/4, $0x3f318000
DATA expConsts<>+92(SB)/4, $0x3f318000
// c2 = -2.12194440e-4
DATA expConsts<>+96(SB)/4, $0xb95e8083
DATA expConsts<>+100(SB)/4, $0xb95e8083
DATA expConsts<>+104(SB)/4, $0xb95e8083
DATA expConsts<>+108(SB)/4, $0xb95e8083
DATA expConsts<>+112(SB)/4, $0xb95e8083
DATA expConsts<>+116(SB)/4, $0xb95e8083
DATA expConsts<>+120(SB)/4, $0xb95e8083
DATA expConsts<>+124(SB)/4, $0xb95e8083
// p0
DATA expConsts<>+128(SB)/4, $0x39506967
DATA expConsts<>+132(SB)/4, $0x39506967
DATA expConsts<>+136(SB)/4, $0x39506967
DATA expConsts<>+140(SB)/4, $0x39506967
DATA expConsts<>+144(SB)/4, $0x39506967
DATA expConsts<>+148(SB)/4, $0x39506967
DATA expConsts<>+152(SB)/4, $0x39506967
DATA expConsts<>+156(SB)/4, $0x39506967
// p1
DATA expConsts<>+160(SB)/4, $0x3ab743ce
DATA expConsts<>+164(SB)/4, $0x3ab743ce
DATA expConsts<>+168(SB)/4, $0x3ab743ce
DATA expConsts<>+172(SB)/4, $0x3ab743ce
DATA expConsts<>+176(SB)/4, $0x3ab743ce
DATA expConsts<>+180(SB)/4, $0x3ab743ce
DATA expConsts<>+184(SB)/4, $0x3ab743ce
DATA expConsts<>+188(SB)/4, $0x3ab743ce
// p2
DATA expConsts<>+192(SB)/4, $0x3c088908
DATA expConsts<>+196(SB)/4, $0x3c088908
DATA expConsts<>+200(SB)/4, $0x3c088908
DATA expConsts<>+204(SB)/4, $0x3c088908
DATA expConsts<>+208(SB)/4, $0x3c088908
DATA expConsts<>+212(SB)/4, $0x3c088908
DATA expConsts<>+216(SB)/4, $0x3c088908
DATA expConsts<>+220(SB)/4, $0x3c088908
// p3
DATA expConsts<>+224(SB)/4, $0x3d2aa9c1
DATA expConsts<>+228(SB)/4, $0x3d2aa9c1
DATA expConsts<>+232(SB)/4, $0x3d2aa9c1
DATA expConsts<>+236(SB)/4, $0x3d2aa9c1
DATA expConsts<>+240(SB)/4, $0x3d2aa9c1
DATA expConsts<>+244(SB)/4, $0x3d2aa9c1
DATA expConsts<>+248(SB)/4, $0x3d2aa9c1
DATA expConsts<>+252(SB)/4, $0x3d2aa9c1
// p4
DATA expConsts<>+256(SB)/4, $0x3e2aaaaa
DATA expConsts<>+260(SB)/4, $0x3e2aaaaa
DATA expConsts<>+264(SB)/4, $0x3e2aaaaa
DATA expConsts<>+268(SB)/4, $0x3e2aaaaa
DATA expConsts<>+272(SB)/4, $0x3e2aaaaa
DATA expConsts<>+276(SB)/4, $0x3e2aaaaa
DATA expConsts<>+280(SB)/4, $0x3e2aaaaa
DATA expConsts<>+284(SB)/4, $0x3e2aaaaa
// p5
DATA expConsts<>+288(SB)/4, $0x3f000000
DATA expConsts<>+292(SB)/4, $0x3f000000
DATA expConsts<>+296(SB)/4, $0x3f000000
DATA expConsts<>+300(SB)/4, $0x3f000000
DATA expConsts<>+304(SB)/4, $0x3f000000
DATA expConsts<>+308(SB)/4, $0x3f000000
DATA expConsts<>+312(SB)/4, $0x3f000000
DATA expConsts<>+316(SB)/4, $0x3f000000
// 1
DATA expConsts<>+320(SB)/4, $0x3f800000
DATA expConsts<>+324(SB)/4, $0x3f800000
DATA expConsts<>+328(SB)/4, $0x3f800000
DATA expConsts<>+332(SB)/4, $0x3f800000
DATA expConsts<>+336(SB)/4, $0x3f800000
DATA expConsts<>+340(SB)/4, $0x3f800000
DATA expConsts<>+344(SB)/4, $0x3f800000
DATA expConsts<>+348(SB)/4, $0x3f800000
// hi = 88.72283
DATA expConsts<>+352(SB)/4, $0x42b17217
DATA expConsts<>+356(SB)/4, $0x42b17217
DATA expConsts<>+360(SB)/4, $0x42b17217
DATA expConsts<>+364(SB)/4, $0x42b17217
DATA expConsts<>+368(SB)/4, $0x42b17217
DATA expConsts<>+372(SB)/4, $0x42b17217
DATA expConsts<>+376(SB)/4, $0x42b17217
DATA expConsts<>+380(SB)/4, $0x42b17217
// lo = -87.33654
DATA expConsts<>+384(SB)/4, $0xc2aeac4f
DATA expConsts<>+388(SB)/4, $0xc2aeac4f
DATA expConsts<>+392(SB)/4, $0xc2aeac4f
DATA expConsts<>+396(SB)/4, $0xc2aeac4f
DATA expConsts<>+400(SB)/4, $0xc2aeac4f
DATA expConsts<>+404(SB)/4, $0xc2aeac4f
DATA expConsts<>+408(SB)/4, $0xc2aeac4f
DATA expConsts<>+412(SB)/4, $0xc2aeac4f
// +Inf
DATA expConsts<>+416(SB)/4, $0x7f800000
DATA expConsts<>+420(SB)/4, $0x7f800000
DATA expConsts<>+424(SB)/4, $0x7f800000
DATA expConsts<>+428(SB)/4, $0x7f800000
DATA expConsts<>+432(SB)/4, $0x7f800000
DATA expConsts<>+436(SB)/4, $0x7f800000
DATA expConsts<>+440(SB)/4, $0x7f800000
DATA expConsts<>+444(SB)/4, $0x7f800000
GLOBL expConsts<>(SB), RODATA|NOPTR, $448

// EXPCONSTS512 loads the constants: Z16 log2e, Z17 0.5, Z18 c1, Z19 c2,
// Z20–Z25 p0–p5, Z26 1, Z27 hi, Z28 lo, Z29 +Inf, and Z31 = 0.
#define EXPCONSTS512 \
	VBROADCASTSS expConsts<>+0(SB), Z16; \
	VBROADCASTSS expConsts<>+32(SB), Z17; \
	VBROADCASTSS expConsts<>+64(SB), Z18; \
	VBROADCASTSS expConsts<>+96(SB), Z19; \
	VBROADCASTSS expConsts<>+128(SB), Z20; \
	VBROADCASTSS expConsts<>+160(SB), Z21; \
	VBROADCASTSS expConsts<>+192(SB), Z22; \
	VBROADCASTSS expConsts<>+224(SB), Z23; \
	VBROADCASTSS expConsts<>+256(SB), Z24; \
	VBROADCASTSS expConsts<>+288(SB), Z25; \
	VBROADCASTSS expConsts<>+320(SB), Z26; \
	VBROADCASTSS expConsts<>+352(SB), Z27; \
	VBROADCASTSS expConsts<>+384(SB), Z28; \
	VBROADCASTSS expConsts<>+416(SB), Z29; \
	VPXORD Z31, Z31, Z31

// EXP16 sets P = exp(X), 16 lanes, leaving X unchanged; F, R and Q are
// scratch. It needs EXPCONSTS512 and uses K2, K3.
#define EXP16(X, F, R, Q, P) \
	VMOVAPS X, F; \
	VFMADD213PS Z17, Z16, F; \
	VRNDSCALEPS $9, F, F; \
	VMOVAPS X, R; \
	VFNMADD231PS Z18, F, R; \
	VFNMADD231PS Z19, F, R; \
	VMULPS R, R, Q; \
	VMOVAPS Z20, P; \
	VFMADD213PS Z21, R, P; \
	VFMADD213PS Z22, R, P; \
	VFMADD213PS Z23, R, P; \
	VFMADD213PS Z24, R, P; \
	VFMADD213PS Z25, R, P; \
	VFMADD213PS R, Q, P; \
	VADDPS Z26, P, P; \
	VSCALEFPS F, P, P; \
	VCMPPS $0x1e, Z27, X, K2; \
	VCMPPS $0x11, Z28, X, K3; \
	VMOVAPS Z29, K2, P; \
	VMOVAPS Z31, K3, P

// TAILMASK sets K1 to the low CX bits.
#define TAILMASK \
	MOVL  $1, AX; \
	SHLL  CX, AX; \
	DECL  AX; \
	KMOVW AX, K1

// HSUM16 leaves the sum of the 16 lanes of Z in lane 0 of X (the low part
// of Z), using X1/Y1 as scratch.
#define HSUM16(Z, Y, X) \
	VEXTRACTF64X4 $1, Z, Y1; \
	VADDPS Y1, Y, Y; \
	VEXTRACTF128 $1, Y, X1; \
	VADDPS X1, X, X; \
	VPERMILPS $0x4e, X, X1; \
	VADDPS X1, X, X; \
	VPERMILPS $0xb1, X, X1; \
	VADDPS X1, X, X

// func expShiftAVX512(x *float32, n int, shift float32) (sum float32)
// sets x[i] = exp(x[i] − shift) and returns the sum of the new values.
TEXT ·expShiftAVX512(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS shift+16(FP), Z30
	EXPCONSTS512
	VPXORD Z15, Z15, Z15
	MOVQ CX, BX
	SHRQ $4, BX
	ANDQ $15, CX
	TESTQ BX, BX
	JZ   exps512_tail

exps512_loop:
	VMOVUPS (DI), Z0
	VSUBPS  Z30, Z0, Z0
	EXP16(Z0, Z1, Z2, Z3, Z4)
	VMOVUPS Z4, (DI)
	VADDPS  Z4, Z15, Z15
	ADDQ    $64, DI
	DECQ    BX
	JNZ     exps512_loop

exps512_tail:
	TESTQ CX, CX
	JZ    exps512_done
	TAILMASK
	VMOVUPS.Z (DI), K1, Z0
	VSUBPS    Z30, Z0, Z0
	EXP16(Z0, Z1, Z2, Z3, Z4)
	VMOVUPS   Z4, K1, (DI)
	VADDPS    Z4, Z15, K1, Z15

exps512_done:
	HSUM16(Z15, Y15, X15)
	VMOVSS X15, sum+24(FP)
	VZEROUPPER
	RET

// func expSum64AVX512(x *float32, n int, shift float32) (sum float64)
// returns Σ exp(x[i] − shift), accumulated in float64 lanes.
TEXT ·expSum64AVX512(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS shift+16(FP), Z30
	EXPCONSTS512
	VPXORQ Z14, Z14, Z14
	VPXORQ Z15, Z15, Z15
	MOVQ CX, BX
	SHRQ $4, BX
	ANDQ $15, CX
	TESTQ BX, BX
	JZ   exps64_tail

exps64_loop:
	VMOVUPS (DI), Z0
	VSUBPS  Z30, Z0, Z0
	EXP16(Z0, Z1, Z2, Z3, Z4)
	VCVTPS2PD     Y4, Z5
	VEXTRACTF64X4 $1, Z4, Y6
	VCVTPS2PD     Y6, Z6
	VADDPD        Z5, Z14, Z14
	VADDPD        Z6, Z15, Z15
	ADDQ          $64, DI
	DECQ          BX
	JNZ           exps64_loop

exps64_tail:
	TESTQ CX, CX
	JZ    exps64_done
	TAILMASK
	VMOVUPS.Z (DI), K1, Z0
	VSUBPS    Z30, Z0, Z0
	EXP16(Z0, Z1, Z2, Z3, Z4)
	VMOVAPS.Z     Z4, K1, Z4
	VCVTPS2PD     Y4, Z5
	VEXTRACTF64X4 $1, Z4, Y6
	VCVTPS2PD     Y6, Z6
	VADDPD        Z5, Z14, Z14
	VADDPD        Z6, Z15, Z15

exps64_done:
	VADDPD        Z15, Z14, Z14
	VEXTRACTF64X4 $1, Z14, Y1
	VADDPD        Y1, Y14, Y14
	VEXTRACTF128  $1, Y14, X1
	VADDPD        X1, X14, X14
	VPERMILPD     $1, X14, X1
	VADDSD        X1, X14, X14
	VMOVSD        X14, sum+24(FP)
	VZEROUPPER
	RET

// func maxAVX512(x *float32, n int) (m float32)
// returns the largest x[i], ignoring NaNs (−Inf when there is none), like
// the scalar loop `if v > m { m = v }`: VMAXPS returns its second source
// operand, the running maximum, when the other is NaN.
TEXT ·maxAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS expConsts<>+416(SB), Z0
	VXORPS Z1, Z1, Z1
	VSUBPS Z0, Z1, Z0 // −Inf
	VMOVAPS Z0, Z2
	MOVQ CX, BX
	SHRQ $5, BX
	ANDQ $31, CX
	TESTQ BX, BX
	JZ   max512_one

max512_loop:
	VMOVUPS (DI), Z3
	VMOVUPS 64(DI), Z4
	VMAXPS  Z0, Z3, Z0
	VMAXPS  Z2, Z4, Z2
	ADDQ    $128, DI
	DECQ    BX
	JNZ     max512_loop

max512_one:
	CMPQ CX, $16
	JLT  max512_tail
	VMOVUPS (DI), Z3
	VMAXPS  Z0, Z3, Z0
	ADDQ    $64, DI
	SUBQ    $16, CX

max512_tail:
	TESTQ CX, CX
	JZ    max512_done
	TAILMASK
	VMOVUPS.Z (DI), K1, Z3
	VMAXPS    Z0, Z3, K1, Z0

max512_done:
	VMAXPS        Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0x4e, X0, X1
	VMAXPS        X1, X0, X0
	VPERMILPS     $0xb1, X0, X1
	VMAXPS        X1, X0, X0
	VMOVSS        X0, m+16(FP)
	VZEROUPPER
	RET

// func siluAVX512(x *float32, n int)
// sets x[i] = x[i] / (1 + exp(−x[i])).
TEXT ·siluAVX512(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	EXPCONSTS512
	MOVQ CX, BX
	SHRQ $4, BX
	ANDQ $15, CX
	TESTQ BX, BX
	JZ   silu512_tail

silu512_loop:
	VMOVUPS (DI), Z5
	VSUBPS  Z5, Z31, Z0
	EXP16(Z0, Z1, Z2, Z3, Z4)
	VADDPS  Z26, Z4, Z4
	VDIVPS  Z4, Z5, Z5
	VMOVUPS Z5, (DI)
	ADDQ    $64, DI
	DECQ    BX
	JNZ     silu512_loop

silu512_tail:
	TESTQ CX, CX
	JZ    silu512_done
	TAILMASK
	VMOVUPS.Z (DI), K1, Z5
	VSUBPS    Z5, Z31, Z0
	EXP16(Z0, Z1, Z2, Z3, Z4)
	VADDPS    Z26, Z4, Z4
	VDIVPS    Z4, Z5, Z5
	VMOVUPS   Z5, K1, (DI)

silu512_done:
	VZEROUPPER
	RET

// func siluMulAVX512(x, gate *float32, n int)
// sets x[i] *= gate[i] / (1 + exp(−gate[i])).
TEXT ·siluMulAVX512(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONSTS512
	MOVQ CX, BX
	SHRQ $4, BX
	ANDQ $15, CX
	TESTQ BX, BX
	JZ   silum512_tail

silum512_loop:
	VMOVUPS (SI), Z5
	VSUBPS  Z5, Z31, Z0
	EXP16(Z0, Z1, Z2, Z3, Z4)
	VADDPS  Z26, Z4, Z4
	VDIVPS  Z4, Z5, Z5
	VMULPS  (DI), Z5, Z5
	VMOVUPS Z5, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	DECQ    BX
	JNZ     silum512_loop

silum512_tail:
	TESTQ CX, CX
	JZ    silum512_done
	TAILMASK
	VMOVUPS.Z (SI), K1, Z5
	VMOVUPS.Z (DI), K1, Z6
	VSUBPS    Z5, Z31, Z0
	EXP16(Z0, Z1, Z2, Z3, Z4)
	VADDPS    Z26, Z4, Z4
	VDIVPS    Z4, Z5, Z5
	VMULPS    Z6, Z5, Z5
	VMOVUPS   Z5, K1, (DI)

silum512_done:
	VZEROUPPER
	RET

// func relu2AVX512(x *float32, n int)
// sets x[i] = max(x[i], 0)²; VMAXPS returns its second source operand, +0,
// for NaN (and for ±0), as the scalar loop does.
TEXT ·relu2AVX512(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VPXORD Z31, Z31, Z31
	MOVQ CX, BX
	SHRQ $5, BX
	ANDQ $31, CX
	TESTQ BX, BX
	JZ   relu512_one

relu512_loop:
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMAXPS  Z31, Z0, Z0
	VMAXPS  Z31, Z1, Z1
	VMULPS  Z0, Z0, Z0
	VMULPS  Z1, Z1, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ    $128, DI
	DECQ    BX
	JNZ     relu512_loop

relu512_one:
	CMPQ CX, $16
	JLT  relu512_tail
	VMOVUPS (DI), Z0
	VMAXPS  Z31, Z0, Z0
	VMULPS  Z0, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, DI
	SUBQ    $16, CX

relu512_tail:
	TESTQ CX, CX
	JZ    relu512_done
	TAILMASK
	VMOVUPS.Z (DI), K1, Z0
	VMAXPS    Z31, Z0, Z0
	VMULPS    Z0, Z0, Z0
	VMOVUPS   Z0, K1, (DI)

relu512_done:
	VZEROUPPER
	RET

// func scaleAVX512(x *float32, n int, s float32)
// sets x[i] *= s.
TEXT ·scaleAVX512(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	VBROADCASTSS s+16(FP), Z31
	MOVQ CX, BX
	SHRQ $5, BX
	ANDQ $31, CX
	TESTQ BX, BX
	JZ   scale512_one

scale512_loop:
	VMULPS  (DI), Z31, Z0
	VMULPS  64(DI), Z31, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ    $128, DI
	DECQ    BX
	JNZ     scale512_loop

scale512_one:
	CMPQ CX, $16
	JLT  scale512_tail
	VMULPS  (DI), Z31, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, DI
	SUBQ    $16, CX

scale512_tail:
	TESTQ CX, CX
	JZ    scale512_done
	TAILMASK
	VMOVUPS.Z (DI), K1, Z0
	VMULPS    Z31, Z0, Z0
	VMOVUPS   Z0, K1, (DI)

scale512_done:
	VZEROUPPER
	RET

// AVX2. Constants: Y8 log2e, Y9 0.5, Y10 c1, Y11 c2, Y12 1, Y13 hi, Y14 lo;
// p0–p5 and +Inf are memory operands.
#define EXPCONSTS256 \
	VMOVUPS expConsts<>+0(SB), Y8; \
	VMOVUPS expConsts<>+32(SB), Y9; \
	VMOVUPS expConsts<>+64(SB), Y10; \
	VMOVUPS expConsts<>+96(SB), Y11; \
	VMOVUPS expConsts<>+320(SB), Y12; \
	VMOVUPS expConsts<>+352(SB), Y13; \
	VMOVUPS expConsts<>+384(SB), Y14

// EXP8 sets P = exp(X), 8 lanes, leaving X unchanged; F, R, Q and M are
// scratch.
#define EXP8(X, F, R, Q, M, P) \
	VMOVAPS X, F; \
	VFMADD213PS Y9, Y8, F; \
	VROUNDPS $9, F, F; \
	VMOVAPS X, R; \
	VFNMADD231PS Y10, F, R; \
	VFNMADD231PS Y11, F, R; \
	VMULPS R, R, Q; \
	VMOVUPS expConsts<>+128(SB), P; \
	VFMADD213PS expConsts<>+160(SB), R, P; \
	VFMADD213PS expConsts<>+192(SB), R, P; \
	VFMADD213PS expConsts<>+224(SB), R, P; \
	VFMADD213PS expConsts<>+256(SB), R, P; \
	VFMADD213PS expConsts<>+288(SB), R, P; \
	VFMADD213PS R, Q, P; \
	VADDPS Y12, P, P; \
	VCVTPS2DQ F, F; \
	VPSLLD $23, F, F; \
	VPADDD F, P, P; \
	VCMPPS $0x1e, Y13, X, M; \
	VBLENDVPS M, expConsts<>+416(SB), P, P; \
	VCMPPS $0x11, Y14, X, M; \
	VANDNPS P, M, P

// HSUM8 leaves the sum of the 8 lanes of Y in lane 0 of X, using X1.
#define HSUM8(Y, X) \
	VEXTRACTF128 $1, Y, X1; \
	VADDPS X1, X, X; \
	VPERMILPS $0x4e, X, X1; \
	VADDPS X1, X, X; \
	VPERMILPS $0xb1, X, X1; \
	VADDPS X1, X, X

// func expShiftAVX2(x *float32, n int, shift float32) (sum float32)
TEXT ·expShiftAVX2(SB), NOSPLIT, $0-28
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), BX
	VBROADCASTSS shift+16(FP), Y15
	EXPCONSTS256
	VXORPS Y7, Y7, Y7
	SHRQ $3, BX
	JZ   exps256_done

exps256_loop:
	VMOVUPS (DI), Y0
	VSUBPS  Y15, Y0, Y0
	EXP8(Y0, Y1, Y2, Y3, Y5, Y4)
	VMOVUPS Y4, (DI)
	VADDPS  Y4, Y7, Y7
	ADDQ    $32, DI
	DECQ    BX
	JNZ     exps256_loop

exps256_done:
	HSUM8(Y7, X7)
	VMOVSS X7, sum+24(FP)
	VZEROUPPER
	RET

// func expSum64AVX2(x *float32, n int, shift float32) (sum float64)
TEXT ·expSum64AVX2(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), BX
	VBROADCASTSS shift+16(FP), Y15
	EXPCONSTS256
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7
	SHRQ $3, BX
	JZ   exps64_256_done

exps64_256_loop:
	VMOVUPS (DI), Y0
	VSUBPS  Y15, Y0, Y0
	EXP8(Y0, Y1, Y2, Y3, Y5, Y4)
	VCVTPS2PD    X4, Y1
	VEXTRACTF128 $1, Y4, X2
	VCVTPS2PD    X2, Y2
	VADDPD       Y1, Y6, Y6
	VADDPD       Y2, Y7, Y7
	ADDQ         $32, DI
	DECQ         BX
	JNZ          exps64_256_loop

exps64_256_done:
	VADDPD       Y7, Y6, Y6
	VEXTRACTF128 $1, Y6, X1
	VADDPD       X1, X6, X6
	VPERMILPD    $1, X6, X1
	VADDSD       X1, X6, X6
	VMOVSD       X6, sum+24(FP)
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) (m float32)
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), BX
	VBROADCASTSS expConsts<>+416(SB), Y0
	VXORPS Y1, Y1, Y1
	VSUBPS Y0, Y1, Y0 // −Inf
	SHRQ $3, BX
	JZ   max256_done

max256_loop:
	VMOVUPS (DI), Y3
	VMAXPS  Y0, Y3, Y0
	ADDQ    $32, DI
	DECQ    BX
	JNZ     max256_loop

max256_done:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	VMOVSS       X0, m+16(FP)
	VZEROUPPER
	RET

// func siluAVX2(x *float32, n int)
TEXT ·siluAVX2(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), BX
	EXPCONSTS256
	VXORPS Y15, Y15, Y15
	SHRQ $3, BX
	JZ   silu256_done

silu256_loop:
	VMOVUPS (DI), Y6
	VSUBPS  Y6, Y15, Y0
	EXP8(Y0, Y1, Y2, Y3, Y5, Y4)
	VADDPS  Y12, Y4, Y4
	VDIVPS  Y4, Y6, Y6
	VMOVUPS Y6, (DI)
	ADDQ    $32, DI
	DECQ    BX
	JNZ     silu256_loop

silu256_done:
	VZEROUPPER
	RET

// func siluMulAVX2(x, gate *float32, n int)
TEXT ·siluMulAVX2(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ n+16(FP), BX
	EXPCONSTS256
	VXORPS Y15, Y15, Y15
	SHRQ $3, BX
	JZ   silum256_done

silum256_loop:
	VMOVUPS (SI), Y6
	VSUBPS  Y6, Y15, Y0
	EXP8(Y0, Y1, Y2, Y3, Y5, Y4)
	VADDPS  Y12, Y4, Y4
	VDIVPS  Y4, Y6, Y6
	VMULPS  (DI), Y6, Y6
	VMOVUPS Y6, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    BX
	JNZ     silum256_loop

silum256_done:
	VZEROUPPER
	RET

// func relu2AVX2(x *float32, n int)
TEXT ·relu2AVX2(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), BX
	VXORPS Y15, Y15, Y15
	SHRQ $3, BX
	JZ   relu256_done

relu256_loop:
	VMOVUPS (DI), Y0
	VMAXPS  Y15, Y0, Y0
	VMULPS  Y0, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	DECQ    BX
	JNZ     relu256_loop

relu256_done:
	VZEROUPPER
	RET

// func scaleAVX2(x *float32, n int, s float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), BX
	VBROADCASTSS s+16(FP), Y15
	SHRQ $3, BX
	JZ   scale256_done

scale256_loop:
	VMULPS  (DI), Y15, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	DECQ    BX
	JNZ     scale256_loop

scale256_done:
	VZEROUPPER
	RET
