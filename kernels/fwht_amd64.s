//go:build !purego

#include "textflag.h"

// Fast Walsh-Hadamard transform passes (see fwht.go), AVX-512 and AVX2.

// fwhtSigns holds, for the in-register stages h = 1, 2, 4, 8, the vector
// s with s[i] = −1 where i&h != 0, else +1. With t = x with elements i and
// i^h swapped, t + s·x is the stage's butterfly: x[i]+x[i+h] where i&h == 0
// and x[i−h]−x[i] where i&h != 0.
DATA fwhtSigns<>+0(SB)/4, $0x3f800000
DATA fwhtSigns<>+4(SB)/4, $0xbf800000
DATA fwhtSigns<>+8(SB)/4, $0x3f800000
DATA fwhtSigns<>+12(SB)/4, $0xbf800000
DATA fwhtSigns<>+16(SB)/4, $0x3f800000
DATA fwhtSigns<>+20(SB)/4, $0xbf800000
DATA fwhtSigns<>+24(SB)/4, $0x3f800000
DATA fwhtSigns<>+28(SB)/4, $0xbf800000
DATA fwhtSigns<>+32(SB)/4, $0x3f800000
DATA fwhtSigns<>+36(SB)/4, $0xbf800000
DATA fwhtSigns<>+40(SB)/4, $0x3f800000
DATA fwhtSigns<>+44(SB)/4, $0xbf800000
DATA fwhtSigns<>+48(SB)/4, $0x3f800000
DATA fwhtSigns<>+52(SB)/4, $0xbf800000
DATA fwhtSigns<>+56(SB)/4, $0x3f800000
DATA fwhtSigns<>+60(SB)/4, $0xbf800000
DATA fwhtSigns<>+64(SB)/4, $0x3f800000
DATA fwhtSigns<>+68(SB)/4, $0x3f800000
DATA fwhtSigns<>+72(SB)/4, $0xbf800000
DATA fwhtSigns<>+76(SB)/4, $0xbf800000
DATA fwhtSigns<>+80(SB)/4, $0x3f800000
DATA fwhtSigns<>+84(SB)/4, $0x3f800000
DATA fwhtSigns<>+88(SB)/4, $0xbf800000
DATA fwhtSigns<>+92(SB)/4, $0xbf800000
DATA fwhtSigns<>+96(SB)/4, $0x3f800000
DATA fwhtSigns<>+100(SB)/4, $0x3f800000
DATA fwhtSigns<>+104(SB)/4, $0xbf800000
DATA fwhtSigns<>+108(SB)/4, $0xbf800000
DATA fwhtSigns<>+112(SB)/4, $0x3f800000
DATA fwhtSigns<>+116(SB)/4, $0x3f800000
DATA fwhtSigns<>+120(SB)/4, $0xbf800000
DATA fwhtSigns<>+124(SB)/4, $0xbf800000
DATA fwhtSigns<>+128(SB)/4, $0x3f800000
DATA fwhtSigns<>+132(SB)/4, $0x3f800000
DATA fwhtSigns<>+136(SB)/4, $0x3f800000
DATA fwhtSigns<>+140(SB)/4, $0x3f800000
DATA fwhtSigns<>+144(SB)/4, $0xbf800000
DATA fwhtSigns<>+148(SB)/4, $0xbf800000
DATA fwhtSigns<>+152(SB)/4, $0xbf800000
DATA fwhtSigns<>+156(SB)/4, $0xbf800000
DATA fwhtSigns<>+160(SB)/4, $0x3f800000
DATA fwhtSigns<>+164(SB)/4, $0x3f800000
DATA fwhtSigns<>+168(SB)/4, $0x3f800000
DATA fwhtSigns<>+172(SB)/4, $0x3f800000
DATA fwhtSigns<>+176(SB)/4, $0xbf800000
DATA fwhtSigns<>+180(SB)/4, $0xbf800000
DATA fwhtSigns<>+184(SB)/4, $0xbf800000
DATA fwhtSigns<>+188(SB)/4, $0xbf800000
DATA fwhtSigns<>+192(SB)/4, $0x3f800000
DATA fwhtSigns<>+196(SB)/4, $0x3f800000
DATA fwhtSigns<>+200(SB)/4, $0x3f800000
DATA fwhtSigns<>+204(SB)/4, $0x3f800000
DATA fwhtSigns<>+208(SB)/4, $0x3f800000
DATA fwhtSigns<>+212(SB)/4, $0x3f800000
DATA fwhtSigns<>+216(SB)/4, $0x3f800000
DATA fwhtSigns<>+220(SB)/4, $0x3f800000
DATA fwhtSigns<>+224(SB)/4, $0xbf800000
DATA fwhtSigns<>+228(SB)/4, $0xbf800000
DATA fwhtSigns<>+232(SB)/4, $0xbf800000
DATA fwhtSigns<>+236(SB)/4, $0xbf800000
DATA fwhtSigns<>+240(SB)/4, $0xbf800000
DATA fwhtSigns<>+244(SB)/4, $0xbf800000
DATA fwhtSigns<>+248(SB)/4, $0xbf800000
DATA fwhtSigns<>+252(SB)/4, $0xbf800000
GLOBL fwhtSigns<>(SB), RODATA|NOPTR, $256

// func fwht16AVX512(x *float32, n int, scale float32)
// Stages h = 1, 2, 4, 8 on each 16-float block of x[0:n] (n a multiple of
// 16), then multiplies by scale.
TEXT ·fwht16AVX512(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	SHRQ         $4, CX
	VBROADCASTSS scale+16(FP), Z31
	VMOVUPS      fwhtSigns<>+0(SB), Z27
	VMOVUPS      fwhtSigns<>+64(SB), Z28
	VMOVUPS      fwhtSigns<>+128(SB), Z29
	VMOVUPS      fwhtSigns<>+192(SB), Z30
	TESTQ        CX, CX
	JLE          done16

loop16:
	VMOVUPS     (DI), Z0
	VPERMILPS   $0xB1, Z0, Z1
	VFMADD231PS Z27, Z0, Z1
	VPERMILPS   $0x4E, Z1, Z2
	VFMADD231PS Z28, Z1, Z2
	VSHUFF32X4  $0xB1, Z2, Z2, Z3
	VFMADD231PS Z29, Z2, Z3
	VSHUFF32X4  $0x4E, Z3, Z3, Z4
	VFMADD231PS Z30, Z3, Z4
	VMULPS      Z31, Z4, Z4
	VMOVUPS     Z4, (DI)
	ADDQ        $64, DI
	DECQ        CX
	JNZ         loop16

done16:
	VZEROUPPER
	RET

// func fwhtRadix2AVX512(x *float32, n, h int, scale float32)
// Stage h (a multiple of 16) over x[0:n]: (a, b) ← (a+b, a−b)·scale for
// a = x[i+j], b = x[i+j+h].
TEXT ·fwhtRadix2AVX512(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	MOVQ         h+16(FP), R8
	VBROADCASTSS scale+24(FP), Z31
	SHLQ         $2, R8
	LEAQ         (DI)(CX*4), R11

outer2:
	MOVQ DI, SI
	LEAQ (DI)(R8*1), R10

inner2:
	VMOVUPS (SI), Z0
	VMOVUPS (SI)(R8*1), Z1
	VADDPS  Z1, Z0, Z2
	VSUBPS  Z1, Z0, Z3
	VMULPS  Z31, Z2, Z2
	VMULPS  Z31, Z3, Z3
	VMOVUPS Z2, (SI)
	VMOVUPS Z3, (SI)(R8*1)
	ADDQ    $64, SI
	CMPQ    SI, R10
	JB      inner2
	LEAQ    (DI)(R8*2), DI
	CMPQ    DI, R11
	JB      outer2
	VZEROUPPER
	RET

// func fwhtRadix4AVX512(x *float32, n, h int, scale float32)
// Stages h and 2h (h a multiple of 16) in one sweep over x[0:n], times
// scale.
TEXT ·fwhtRadix4AVX512(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	MOVQ         h+16(FP), R8
	VBROADCASTSS scale+24(FP), Z31
	SHLQ         $2, R8
	LEAQ         (DI)(CX*4), R11

outer4:
	MOVQ DI, SI
	LEAQ (DI)(R8*1), R10

inner4:
	LEAQ    (SI)(R8*2), R9
	VMOVUPS (SI), Z0
	VMOVUPS (SI)(R8*1), Z1
	VMOVUPS (R9), Z2
	VMOVUPS (R9)(R8*1), Z3
	VADDPS  Z1, Z0, Z4
	VSUBPS  Z1, Z0, Z5
	VADDPS  Z3, Z2, Z6
	VSUBPS  Z3, Z2, Z7
	VADDPS  Z6, Z4, Z0
	VSUBPS  Z6, Z4, Z2
	VADDPS  Z7, Z5, Z1
	VSUBPS  Z7, Z5, Z3
	VMULPS  Z31, Z0, Z0
	VMULPS  Z31, Z1, Z1
	VMULPS  Z31, Z2, Z2
	VMULPS  Z31, Z3, Z3
	VMOVUPS Z0, (SI)
	VMOVUPS Z1, (SI)(R8*1)
	VMOVUPS Z2, (R9)
	VMOVUPS Z3, (R9)(R8*1)
	ADDQ    $64, SI
	CMPQ    SI, R10
	JB      inner4
	LEAQ    (DI)(R8*4), DI
	CMPQ    DI, R11
	JB      outer4
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX2 versions: 8-float blocks, stages h = 1, 2, 4 in register (signs as
// fwhtSigns, for 8 lanes), then the same sweeps with YMM registers.

DATA fwhtSigns8<>+0(SB)/4, $0x3f800000
DATA fwhtSigns8<>+4(SB)/4, $0xbf800000
DATA fwhtSigns8<>+8(SB)/4, $0x3f800000
DATA fwhtSigns8<>+12(SB)/4, $0xbf800000
DATA fwhtSigns8<>+16(SB)/4, $0x3f800000
DATA fwhtSigns8<>+20(SB)/4, $0xbf800000
DATA fwhtSigns8<>+24(SB)/4, $0x3f800000
DATA fwhtSigns8<>+28(SB)/4, $0xbf800000
DATA fwhtSigns8<>+32(SB)/4, $0x3f800000
DATA fwhtSigns8<>+36(SB)/4, $0x3f800000
DATA fwhtSigns8<>+40(SB)/4, $0xbf800000
DATA fwhtSigns8<>+44(SB)/4, $0xbf800000
DATA fwhtSigns8<>+48(SB)/4, $0x3f800000
DATA fwhtSigns8<>+52(SB)/4, $0x3f800000
DATA fwhtSigns8<>+56(SB)/4, $0xbf800000
DATA fwhtSigns8<>+60(SB)/4, $0xbf800000
DATA fwhtSigns8<>+64(SB)/4, $0x3f800000
DATA fwhtSigns8<>+68(SB)/4, $0x3f800000
DATA fwhtSigns8<>+72(SB)/4, $0x3f800000
DATA fwhtSigns8<>+76(SB)/4, $0x3f800000
DATA fwhtSigns8<>+80(SB)/4, $0xbf800000
DATA fwhtSigns8<>+84(SB)/4, $0xbf800000
DATA fwhtSigns8<>+88(SB)/4, $0xbf800000
DATA fwhtSigns8<>+92(SB)/4, $0xbf800000
GLOBL fwhtSigns8<>(SB), RODATA|NOPTR, $96

// func fwht8AVX2(x *float32, n int, scale float32)
TEXT ·fwht8AVX2(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	SHRQ         $3, CX
	VBROADCASTSS scale+16(FP), Y15
	VMOVUPS      fwhtSigns8<>+0(SB), Y12
	VMOVUPS      fwhtSigns8<>+32(SB), Y13
	VMOVUPS      fwhtSigns8<>+64(SB), Y14
	TESTQ        CX, CX
	JLE          done8

loop8:
	VMOVUPS     (DI), Y0
	VPERMILPS   $0xB1, Y0, Y1
	VFMADD231PS Y12, Y0, Y1
	VPERMILPS   $0x4E, Y1, Y2
	VFMADD231PS Y13, Y1, Y2
	VPERM2F128  $0x01, Y2, Y2, Y3
	VFMADD231PS Y14, Y2, Y3
	VMULPS      Y15, Y3, Y3
	VMOVUPS     Y3, (DI)
	ADDQ        $32, DI
	DECQ        CX
	JNZ         loop8

done8:
	VZEROUPPER
	RET

// func fwhtRadix2AVX2(x *float32, n, h int, scale float32)
TEXT ·fwhtRadix2AVX2(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	MOVQ         h+16(FP), R8
	VBROADCASTSS scale+24(FP), Y15
	SHLQ         $2, R8
	LEAQ         (DI)(CX*4), R11

outer2y:
	MOVQ DI, SI
	LEAQ (DI)(R8*1), R10

inner2y:
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VADDPS  Y1, Y0, Y2
	VSUBPS  Y1, Y0, Y3
	VMULPS  Y15, Y2, Y2
	VMULPS  Y15, Y3, Y3
	VMOVUPS Y2, (SI)
	VMOVUPS Y3, (SI)(R8*1)
	ADDQ    $32, SI
	CMPQ    SI, R10
	JB      inner2y
	LEAQ    (DI)(R8*2), DI
	CMPQ    DI, R11
	JB      outer2y
	VZEROUPPER
	RET

// func fwhtRadix4AVX2(x *float32, n, h int, scale float32)
TEXT ·fwhtRadix4AVX2(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	MOVQ         h+16(FP), R8
	VBROADCASTSS scale+24(FP), Y15
	SHLQ         $2, R8
	LEAQ         (DI)(CX*4), R11

outer4y:
	MOVQ DI, SI
	LEAQ (DI)(R8*1), R10

inner4y:
	LEAQ    (SI)(R8*2), R9
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (R9), Y2
	VMOVUPS (R9)(R8*1), Y3
	VADDPS  Y1, Y0, Y4
	VSUBPS  Y1, Y0, Y5
	VADDPS  Y3, Y2, Y6
	VSUBPS  Y3, Y2, Y7
	VADDPS  Y6, Y4, Y0
	VSUBPS  Y6, Y4, Y2
	VADDPS  Y7, Y5, Y1
	VSUBPS  Y7, Y5, Y3
	VMULPS  Y15, Y0, Y0
	VMULPS  Y15, Y1, Y1
	VMULPS  Y15, Y2, Y2
	VMULPS  Y15, Y3, Y3
	VMOVUPS Y0, (SI)
	VMOVUPS Y1, (SI)(R8*1)
	VMOVUPS Y2, (R9)
	VMOVUPS Y3, (R9)(R8*1)
	ADDQ    $32, SI
	CMPQ    SI, R10
	JB      inner4y
	LEAQ    (DI)(R8*4), DI
	CMPQ    DI, R11
	JB      outer4y
	VZEROUPPER
	RET
