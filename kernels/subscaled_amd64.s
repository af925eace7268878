//go:build !purego

#include "textflag.h"

// func subScaled64AVX2(y, x *float64, n int, a float64)
// y[i] -= a*x[i] for n elements, n a multiple of 4: VMULPD then VSUBPD, the
// scalar rounding.
TEXT ·subScaled64AVX2(SB), NOSPLIT, $0-32
	MOVQ         y+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), BX
	VBROADCASTSD a+24(FP), Y15
	MOVQ         BX, CX
	SHRQ         $4, CX
	JZ           sub4

sub16_loop:
	VMULPD  (SI), Y15, Y0
	VMULPD  32(SI), Y15, Y1
	VMULPD  64(SI), Y15, Y2
	VMULPD  96(SI), Y15, Y3
	VMOVUPD (DI), Y4
	VMOVUPD 32(DI), Y5
	VMOVUPD 64(DI), Y6
	VMOVUPD 96(DI), Y7
	VSUBPD  Y0, Y4, Y4
	VSUBPD  Y1, Y5, Y5
	VSUBPD  Y2, Y6, Y6
	VSUBPD  Y3, Y7, Y7
	VMOVUPD Y4, (DI)
	VMOVUPD Y5, 32(DI)
	VMOVUPD Y6, 64(DI)
	VMOVUPD Y7, 96(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	DECQ    CX
	JNZ     sub16_loop

sub4:
	ANDQ $15, BX
	SHRQ $2, BX
	JZ   sub_done

sub4_loop:
	VMULPD  (SI), Y15, Y0
	VMOVUPD (DI), Y4
	VSUBPD  Y0, Y4, Y4
	VMOVUPD Y4, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    BX
	JNZ     sub4_loop

sub_done:
	VZEROUPPER
	RET
