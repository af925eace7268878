//go:build !purego

#include "textflag.h"

// Micro-kernels of the GEMM driver (see gemm.go). Each computes an mr×nr tile
// of C from mr rows of A read in place (row stride lda floats, broadcast one
// float at a time) and a B micro-panel (kc rows of nr floats, loaded as
// vectors):
//
//	for p in 0..kc-1: C[r][:] += a[r*lda+p] * b[p*nr:(p+1)*nr]   (r < mr)
//
// Row r of A is addressed as (SI)(index*scale) with R9 = lda·4 bytes,
// R10 = 3·R9 and R11 = 5·R9, so one pointer SI walks all six rows.
// The accumulators live in registers for the whole reduction; at the end
// the tile is stored to C (row stride ldc floats), added to C when
// accumulate != 0.

// ---------------------------------------------------------------------------
// AVX-512: 6×64 tile, accumulators Z0–Z23 (row r in Z(4r)…Z(4r+3)), the B row
// in Z24–Z27, broadcasts in Z28–Z31. Per step of p: 4 vector loads,
// 6 broadcasts, 24 FMAs.

#define FMAROW512(bc, r0, r1, r2, r3) \
	VFMADD231PS Z24, bc, r0; \
	VFMADD231PS Z25, bc, r1; \
	VFMADD231PS Z26, bc, r2; \
	VFMADD231PS Z27, bc, r3

#define ADDROW512(r0, r1, r2, r3) \
	VADDPS 0(BX), r0, r0; \
	VADDPS 64(BX), r1, r1; \
	VADDPS 128(BX), r2, r2; \
	VADDPS 192(BX), r3, r3; \
	ADDQ   R8, BX

#define STOREROW512(r0, r1, r2, r3) \
	VMOVUPS r0, 0(DX); \
	VMOVUPS r1, 64(DX); \
	VMOVUPS r2, 128(DX); \
	VMOVUPS r3, 192(DX); \
	ADDQ    R8, DX

// func sgemm6x64AVX512(kc int, a *float32, lda int, b, c *float32, ldc int, accumulate int)
TEXT ·sgemm6x64AVX512(SB), NOSPLIT, $0-56
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R10
	LEAQ (R9)(R9*4), R11
	MOVQ b+24(FP), DI
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	// Fetch the C tile now so its misses overlap the reduction loop.
	MOVQ       DX, BX
	PREFETCHT0 (BX)
	PREFETCHT0 64(BX)
	PREFETCHT0 128(BX)
	PREFETCHT0 192(BX)
	ADDQ       R8, BX
	PREFETCHT0 (BX)
	PREFETCHT0 64(BX)
	PREFETCHT0 128(BX)
	PREFETCHT0 192(BX)
	ADDQ       R8, BX
	PREFETCHT0 (BX)
	PREFETCHT0 64(BX)
	PREFETCHT0 128(BX)
	PREFETCHT0 192(BX)
	ADDQ       R8, BX
	PREFETCHT0 (BX)
	PREFETCHT0 64(BX)
	PREFETCHT0 128(BX)
	PREFETCHT0 192(BX)
	ADDQ       R8, BX
	PREFETCHT0 (BX)
	PREFETCHT0 64(BX)
	PREFETCHT0 128(BX)
	PREFETCHT0 192(BX)
	ADDQ       R8, BX
	PREFETCHT0 (BX)
	PREFETCHT0 64(BX)
	PREFETCHT0 128(BX)
	PREFETCHT0 192(BX)
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	TESTQ CX, CX
	JLE   store512

loop512:
	VMOVUPS      0(DI), Z24
	VMOVUPS      64(DI), Z25
	VMOVUPS      128(DI), Z26
	VMOVUPS      192(DI), Z27
	VBROADCASTSS (SI), Z28
	VBROADCASTSS (SI)(R9*1), Z29
	FMAROW512(Z28, Z0, Z1, Z2, Z3)
	FMAROW512(Z29, Z4, Z5, Z6, Z7)
	VBROADCASTSS (SI)(R9*2), Z30
	VBROADCASTSS (SI)(R10*1), Z31
	FMAROW512(Z30, Z8, Z9, Z10, Z11)
	FMAROW512(Z31, Z12, Z13, Z14, Z15)
	VBROADCASTSS (SI)(R9*4), Z28
	VBROADCASTSS (SI)(R11*1), Z29
	FMAROW512(Z28, Z16, Z17, Z18, Z19)
	FMAROW512(Z29, Z20, Z21, Z22, Z23)
	ADDQ         $4, SI
	ADDQ         $256, DI
	DECQ         CX
	JNZ          loop512

store512:
	MOVQ  accumulate+48(FP), AX
	TESTQ AX, AX
	JZ    write512
	MOVQ  DX, BX
	ADDROW512(Z0, Z1, Z2, Z3)
	ADDROW512(Z4, Z5, Z6, Z7)
	ADDROW512(Z8, Z9, Z10, Z11)
	ADDROW512(Z12, Z13, Z14, Z15)
	ADDROW512(Z16, Z17, Z18, Z19)
	ADDROW512(Z20, Z21, Z22, Z23)

write512:
	STOREROW512(Z0, Z1, Z2, Z3)
	STOREROW512(Z4, Z5, Z6, Z7)
	STOREROW512(Z8, Z9, Z10, Z11)
	STOREROW512(Z12, Z13, Z14, Z15)
	STOREROW512(Z16, Z17, Z18, Z19)
	STOREROW512(Z20, Z21, Z22, Z23)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX2 + FMA: 6×16 tile, accumulators Y0–Y11 (row r in Y(2r), Y(2r+1)), the
// B row in Y12–Y13, broadcasts in Y14–Y15.

#define FMAROW256(bc, r0, r1) \
	VFMADD231PS Y12, bc, r0; \
	VFMADD231PS Y13, bc, r1

#define ADDROW256(r0, r1) \
	VADDPS 0(BX), r0, r0; \
	VADDPS 32(BX), r1, r1; \
	ADDQ   R8, BX

#define STOREROW256(r0, r1) \
	VMOVUPS r0, 0(DX); \
	VMOVUPS r1, 32(DX); \
	ADDQ    R8, DX

// func sgemm6x16AVX2(kc int, a *float32, lda int, b, c *float32, ldc int, accumulate int)
TEXT ·sgemm6x16AVX2(SB), NOSPLIT, $0-56
	MOVQ  kc+0(FP), CX
	MOVQ  a+8(FP), SI
	MOVQ  lda+16(FP), R9
	SHLQ  $2, R9
	LEAQ  (R9)(R9*2), R10
	LEAQ  (R9)(R9*4), R11
	MOVQ  b+24(FP), DI
	MOVQ  c+32(FP), DX
	MOVQ  ldc+40(FP), R8
	SHLQ  $2, R8
	// Fetch the C tile (64 bytes a row, maybe over two lines) now.
	MOVQ  DX, BX
	PREFETCHT0 (BX)
	PREFETCHT0 63(BX)
	ADDQ       R8, BX
	PREFETCHT0 (BX)
	PREFETCHT0 63(BX)
	ADDQ       R8, BX
	PREFETCHT0 (BX)
	PREFETCHT0 63(BX)
	ADDQ       R8, BX
	PREFETCHT0 (BX)
	PREFETCHT0 63(BX)
	ADDQ       R8, BX
	PREFETCHT0 (BX)
	PREFETCHT0 63(BX)
	ADDQ       R8, BX
	PREFETCHT0 (BX)
	PREFETCHT0 63(BX)
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	TESTQ CX, CX
	JLE   store256

loop256:
	VMOVUPS      0(DI), Y12
	VMOVUPS      32(DI), Y13
	VBROADCASTSS (SI), Y14
	VBROADCASTSS (SI)(R9*1), Y15
	FMAROW256(Y14, Y0, Y1)
	FMAROW256(Y15, Y2, Y3)
	VBROADCASTSS (SI)(R9*2), Y14
	VBROADCASTSS (SI)(R10*1), Y15
	FMAROW256(Y14, Y4, Y5)
	FMAROW256(Y15, Y6, Y7)
	VBROADCASTSS (SI)(R9*4), Y14
	VBROADCASTSS (SI)(R11*1), Y15
	FMAROW256(Y14, Y8, Y9)
	FMAROW256(Y15, Y10, Y11)
	ADDQ         $4, SI
	ADDQ         $64, DI
	DECQ         CX
	JNZ          loop256

store256:
	MOVQ  accumulate+48(FP), AX
	TESTQ AX, AX
	JZ    write256
	MOVQ  DX, BX
	ADDROW256(Y0, Y1)
	ADDROW256(Y2, Y3)
	ADDROW256(Y4, Y5)
	ADDROW256(Y6, Y7)
	ADDROW256(Y8, Y9)
	ADDROW256(Y10, Y11)

write256:
	STOREROW256(Y0, Y1)
	STOREROW256(Y2, Y3)
	STOREROW256(Y4, Y5)
	STOREROW256(Y6, Y7)
	STOREROW256(Y8, Y9)
	STOREROW256(Y10, Y11)
	VZEROUPPER
	RET
