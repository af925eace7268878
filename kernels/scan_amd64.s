//go:build !purego

#include "textflag.h"

// Mamba2 selective-scan kernels (see scan.go), AVX-512 and AVX2.
//
// One token advances every row p of the P×N state S:
//
//	S[p][:] = S[p][:]·dA + (dt·x[p])·B[:]
//	y[p]    = Σ_n S[p][n]·C[n] + D·x[p]
//
// that is, per 16-float vector of a row, a multiply, a fused multiply-add,
// a store and a fused multiply-add into the row's accumulator.
//
// ssmScan128AVX512 is the kernel for N = 128, the state size of every
// Nemotron-H model: a state row is eight vectors. It advances blocks of 16
// rows through T tokens (block-outer, token-inner, so the 8 KiB of a block
// stays in L1 while the tokens' B and C stream past). Per token it holds
// dt·B and C in Z0–Z7 and Z8–Z15; each row then costs eight loads and
// stores of the state and 24 multiply-adds, and the sixteen row
// accumulators are summed together by a shuffle network (the one of the
// GEMV kernels) that leaves row r's sum in lane r of one vector: y for the
// 16 rows is one FMA with D·x and one store. The network puts accumulator
// slot a in lane (a%4)·4 + a/4, so rows are processed in the order that
// fills slot a with row (a%4)·4 + a/4.
//
// ssmStepAVX512 and ssmStepAVX2 advance all rows by one token for any N,
// the last partial vector of a row masked (AVX-512) or scalar (AVX2), and
// reduce each row's accumulator on its own.

// ROW advances state row r of the block at SI and leaves its dot product
// with C in lane sums of ACC. Z16 = dA, Z0–Z7 = dt·B, Z8–Z15 = C; Z19,
// Z20 and Z21 are scratch.
#define ROW(r, ACC) \
	VBROADCASTSS (r*4)(DX), Z19; \
	VMULPS (r*512)(SI), Z16, Z20; \
	VFMADD231PS Z19, Z0, Z20; \
	VMOVUPS Z20, (r*512)(SI); \
	VMULPS Z20, Z8, ACC; \
	VMULPS (r*512+64)(SI), Z16, Z21; \
	VFMADD231PS Z19, Z1, Z21; \
	VMOVUPS Z21, (r*512+64)(SI); \
	VFMADD231PS Z21, Z9, ACC; \
	VMULPS (r*512+128)(SI), Z16, Z20; \
	VFMADD231PS Z19, Z2, Z20; \
	VMOVUPS Z20, (r*512+128)(SI); \
	VFMADD231PS Z20, Z10, ACC; \
	VMULPS (r*512+192)(SI), Z16, Z21; \
	VFMADD231PS Z19, Z3, Z21; \
	VMOVUPS Z21, (r*512+192)(SI); \
	VFMADD231PS Z21, Z11, ACC; \
	VMULPS (r*512+256)(SI), Z16, Z20; \
	VFMADD231PS Z19, Z4, Z20; \
	VMOVUPS Z20, (r*512+256)(SI); \
	VFMADD231PS Z20, Z12, ACC; \
	VMULPS (r*512+320)(SI), Z16, Z21; \
	VFMADD231PS Z19, Z5, Z21; \
	VMOVUPS Z21, (r*512+320)(SI); \
	VFMADD231PS Z21, Z13, ACC; \
	VMULPS (r*512+384)(SI), Z16, Z20; \
	VFMADD231PS Z19, Z6, Z20; \
	VMOVUPS Z20, (r*512+384)(SI); \
	VFMADD231PS Z20, Z14, ACC; \
	VMULPS (r*512+448)(SI), Z16, Z21; \
	VFMADD231PS Z19, Z7, Z21; \
	VMOVUPS Z21, (r*512+448)(SI); \
	VFMADD231PS Z21, Z15, ACC

// PAIR processes rows ra and rb (slots 2k, 2k+1) and adds the halves of
// their accumulators into OUT: [ra's 8 partial sums | rb's 8].
#define PAIR(ra, rb, OUT) \
	ROW(ra, Z22); \
	ROW(rb, Z23); \
	VSHUFF32X4 $0x44, Z23, Z22, Z28; \
	VSHUFF32X4 $0xEE, Z23, Z22, Z29; \
	VADDPS Z29, Z28, OUT

// QUAD folds two PAIR results into OUT: four partial sums for each of
// four rows.
#define QUAD(A, B, OUT) \
	VSHUFF32X4 $0x88, B, A, Z28; \
	VSHUFF32X4 $0xDD, B, A, Z29; \
	VADDPS Z29, Z28, OUT

// OCT folds two QUAD results into OUT: two partial sums for each of eight
// rows.
#define OCT(A, B, OUT) \
	VUNPCKLPS B, A, Z28; \
	VUNPCKHPS B, A, Z29; \
	VADDPS Z29, Z28, OUT

// func ssmScan128AVX512(S *float32, blocks, T int, x *float32, xs int, B, C *float32, bcs int, dadt *float32, D float32, y *float32, ys int)
//
// S holds blocks·16 rows of 128 floats. For token t (t < T) the kernel reads
// x[t·xs+p], B[t·bcs+n], C[t·bcs+n], dA = dadt[2t], dt = dadt[2t+1], and
// writes y[t·ys+p], for the rows p < blocks·16.
TEXT ·ssmScan128AVX512(SB), NOSPLIT, $0-96
	MOVQ S+0(FP), SI
	MOVQ blocks+8(FP), BX
	MOVQ xs+32(FP), R11
	MOVQ bcs+56(FP), R12
	MOVQ ys+88(FP), R13
	SHLQ $2, R11
	SHLQ $2, R12
	SHLQ $2, R13
	VBROADCASTSS D+72(FP), Z18
	XORQ AX, AX
	TESTQ BX, BX
	JZ    scan128_done

scan128_block:
	MOVQ x+24(FP), DX
	ADDQ AX, DX
	MOVQ y+80(FP), DI
	ADDQ AX, DI
	MOVQ B+40(FP), R8
	MOVQ C+48(FP), R9
	MOVQ dadt+64(FP), R10
	MOVQ T+16(FP), CX
	TESTQ CX, CX
	JZ    scan128_next

scan128_token:
	VBROADCASTSS (R10), Z16
	VBROADCASTSS 4(R10), Z17
	VMULPS  (R8), Z17, Z0
	VMULPS  64(R8), Z17, Z1
	VMULPS  128(R8), Z17, Z2
	VMULPS  192(R8), Z17, Z3
	VMULPS  256(R8), Z17, Z4
	VMULPS  320(R8), Z17, Z5
	VMULPS  384(R8), Z17, Z6
	VMULPS  448(R8), Z17, Z7
	VMOVUPS (R9), Z8
	VMOVUPS 64(R9), Z9
	VMOVUPS 128(R9), Z10
	VMOVUPS 192(R9), Z11
	VMOVUPS 256(R9), Z12
	VMOVUPS 320(R9), Z13
	VMOVUPS 384(R9), Z14
	VMOVUPS 448(R9), Z15
	PAIR(0, 4, Z24)
	PAIR(8, 12, Z25)
	QUAD(Z24, Z25, Z26)
	PAIR(1, 5, Z24)
	PAIR(9, 13, Z25)
	QUAD(Z24, Z25, Z27)
	OCT(Z26, Z27, Z26)
	PAIR(2, 6, Z24)
	PAIR(10, 14, Z25)
	QUAD(Z24, Z25, Z27)
	PAIR(3, 7, Z24)
	PAIR(11, 15, Z25)
	QUAD(Z24, Z25, Z30)
	OCT(Z27, Z30, Z27)
	VUNPCKLPD Z27, Z26, Z28
	VUNPCKHPD Z27, Z26, Z29
	VADDPS    Z29, Z28, Z26
	VFMADD231PS (DX), Z18, Z26
	VMOVUPS   Z26, (DI)
	ADDQ R11, DX
	ADDQ R12, R8
	ADDQ R12, R9
	ADDQ $8, R10
	ADDQ R13, DI
	DECQ CX
	JNZ  scan128_token

scan128_next:
	ADDQ $8192, SI
	ADDQ $64, AX
	DECQ BX
	JNZ  scan128_block

scan128_done:
	VZEROUPPER
	RET

// func ssmStepAVX512(S *float32, P, N int, x, B, C, y *float32, dA, dt, D float32)
TEXT ·ssmStepAVX512(SB), NOSPLIT, $0-68
	MOVQ S+0(FP), SI
	MOVQ P+8(FP), BX
	MOVQ N+16(FP), R11
	MOVQ x+24(FP), DX
	MOVQ B+32(FP), R8
	MOVQ C+40(FP), R9
	MOVQ y+48(FP), DI
	VBROADCASTSS dA+56(FP), Z16
	VBROADCASTSS dt+60(FP), Z17
	VMOVSS D+64(FP), X5
	MOVQ R11, CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	MOVQ CX, R13
	SHLQ $2, R13 // tail bytes
	SHRQ $4, R11 // whole vectors per row
	TESTQ BX, BX
	JZ    step512_done

step512_row:
	VBROADCASTSS (DX), Z19
	VMULPS Z17, Z19, Z19 // u = dt·x[p]
	VPXORD Z4, Z4, Z4
	XORQ   AX, AX
	MOVQ   R11, R10
	TESTQ  R10, R10
	JZ     step512_tail

step512_vec:
	VMULPS      (SI)(AX*1), Z16, Z21
	VFMADD231PS (R8)(AX*1), Z19, Z21
	VMOVUPS     Z21, (SI)(AX*1)
	VFMADD231PS (R9)(AX*1), Z21, Z4
	ADDQ        $64, AX
	DECQ        R10
	JNZ         step512_vec

step512_tail:
	TESTQ R13, R13
	JZ    step512_reduce
	VMOVUPS.Z   (SI)(AX*1), K1, Z21
	VMULPS      Z16, Z21, Z21
	VMOVUPS.Z   (R8)(AX*1), K1, Z22
	VFMADD231PS Z22, Z19, Z21
	VMOVUPS     Z21, K1, (SI)(AX*1)
	VMOVUPS.Z   (R9)(AX*1), K1, Z22
	VFMADD231PS Z22, Z21, Z4
	ADDQ        R13, AX

step512_reduce:
	ADDQ          AX, SI
	VEXTRACTF64X4 $1, Z4, Y1
	VADDPS        Y1, Y4, Y4
	VEXTRACTF128  $1, Y4, X1
	VADDPS        X1, X4, X4
	VPERMILPS     $0x4e, X4, X1
	VADDPS        X1, X4, X4
	VPERMILPS     $0xb1, X4, X1
	VADDPS        X1, X4, X4
	VMOVSS        (DX), X6
	VFMADD231SS   X6, X5, X4
	VMOVSS        X4, (DI)
	ADDQ          $4, DX
	ADDQ          $4, DI
	DECQ          BX
	JNZ           step512_row

step512_done:
	VZEROUPPER
	RET

// func ssmStepAVX2(S *float32, P, N int, x, B, C, y *float32, dA, dt, D float32)
TEXT ·ssmStepAVX2(SB), NOSPLIT, $0-68
	MOVQ S+0(FP), SI
	MOVQ P+8(FP), BX
	MOVQ N+16(FP), R11
	MOVQ x+24(FP), DX
	MOVQ B+32(FP), R8
	MOVQ C+40(FP), R9
	MOVQ y+48(FP), DI
	VBROADCASTSS dA+56(FP), Y8
	VBROADCASTSS dt+60(FP), Y9
	VMOVSS D+64(FP), X5
	MOVQ R11, R13
	ANDQ $7, R13 // tail floats
	SHRQ $3, R11 // whole vectors per row
	TESTQ BX, BX
	JZ    step256_done

step256_row:
	VBROADCASTSS (DX), Y7
	VMULPS Y9, Y7, Y7 // u = dt·x[p]
	VXORPS Y4, Y4, Y4
	VXORPS Y3, Y3, Y3
	XORQ   AX, AX
	MOVQ   R11, R10
	TESTQ  R10, R10
	JZ     step256_tail

step256_vec:
	VMULPS      (SI)(AX*1), Y8, Y0
	VFMADD231PS (R8)(AX*1), Y7, Y0
	VMOVUPS     Y0, (SI)(AX*1)
	VFMADD231PS (R9)(AX*1), Y0, Y4
	ADDQ        $32, AX
	DECQ        R10
	JNZ         step256_vec

step256_tail:
	MOVQ  R13, R10
	TESTQ R10, R10
	JZ    step256_reduce

step256_scalar:
	VMULSS      (SI)(AX*1), X8, X0
	VFMADD231SS (R8)(AX*1), X7, X0
	VMOVSS      X0, (SI)(AX*1)
	VFMADD231SS (R9)(AX*1), X0, X3
	ADDQ        $4, AX
	DECQ        R10
	JNZ         step256_scalar

step256_reduce:
	ADDQ         AX, SI
	VEXTRACTF128 $1, Y4, X1
	VADDPS       X1, X4, X4
	VPERMILPS    $0x4e, X4, X1
	VADDPS       X1, X4, X4
	VPERMILPS    $0xb1, X4, X1
	VADDPS       X1, X4, X4
	VADDSS       X3, X4, X4
	VMOVSS       (DX), X6
	VFMADD231SS  X6, X5, X4
	VMOVSS       X4, (DI)
	ADDQ         $4, DX
	ADDQ         $4, DI
	DECQ         BX
	JNZ          step256_row

step256_done:
	VZEROUPPER
	RET
