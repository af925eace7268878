//go:build !purego

package kernels

// Transposing B-panel packers in assembly (pack_amd64.s), used at the
// AVX512 level. Each handles whole 16×16 tiles; the Go callers do the
// remaining rows and columns.

//go:noescape
func packT16F32(dst *float32, ldd int, src *float32, lds int, tiles int)

//go:noescape
func packT16BF16(dst *float32, ldd int, src *byte, lds int, tiles int)

//go:noescape
func packT16FP16(dst *float32, ldd int, src *byte, lds int, tiles int)

//go:noescape
func packT16Q8(dst *float32, ldd int, src *byte, lds int, tiles int, scales *float32, zeros *int32)

//go:noescape
func packT16Q4(dst *float32, ldd int, src *byte, lds int, tiles int, scales *float32, zeros *int32)

// packT16 packs the leading rows×cols (multiples of 16) of the w×kc float32
// block src (row stride lds) transposed into dst (row stride nr), as
// packTransposed does, and returns the size it did.
func packT16(dst []float32, nr int, src []float32, lds, w, kc int) (rows, cols int) {
	rows, cols = w&^15, kc&^15
	if CurrentISA() < AVX512 || nr%16 != 0 || rows == 0 || cols == 0 {
		return 0, 0
	}
	_ = src[(rows-1)*lds+cols-1]
	_ = dst[(cols-1)*nr+rows-1]
	for j := 0; j < rows; j += 16 {
		packT16F32(&dst[j], nr, &src[j*lds], 4*lds, cols/16)
	}
	return rows, cols
}

// packHalf16 is packT16 for bf16 (fp16 when fp16 is set) rows of lds bytes.
func packHalf16(dst []float32, nr int, src []byte, lds, w, kc int, fp16 bool) (rows, cols int) {
	rows, cols = w&^15, kc&^15
	if CurrentISA() < AVX512 || nr%16 != 0 || rows == 0 || cols == 0 {
		return 0, 0
	}
	_ = src[(rows-1)*lds+2*cols-1]
	_ = dst[(cols-1)*nr+rows-1]
	for j := 0; j < rows; j += 16 {
		if fp16 {
			packT16FP16(&dst[j], nr, &src[j*lds], lds, cols/16)
		} else {
			packT16BF16(&dst[j], nr, &src[j*lds], lds, cols/16)
		}
	}
	return rows, cols
}

// packQuantAsm dequantises the leading rows (a multiple of 16) of a QMatrix
// panel, all kc columns, for Bits 8 and 4 when the scale groups are whole
// 16-column tiles; it returns how many of the w rows it did.
func packQuantAsm(dst []float32, nr int, q *QMatrix, j0, w, p0, kc int) int {
	rows := w &^ 15
	if CurrentISA() < AVX512 || (q.Bits != 8 && q.Bits != 4) || nr%16 != 0 || rows == 0 ||
		kc%16 != 0 || p0%16 != 0 {
		return 0
	}
	seg := q.Cols // columns sharing a scale
	if !q.PerTensor {
		seg = q.GroupSize
		if seg%16 != 0 {
			return 0
		}
	}
	rb := q.RowBytes()
	_ = q.Codes[(j0+rows)*rb-1]
	_ = dst[(kc-1)*nr+rows-1]
	var scales [16]float32
	var zeros [16]int32
	for j := 0; j < rows; j += 16 {
		for p := p0; p < p0+kc; {
			end := min(p0+kc, (p/seg+1)*seg)
			for r := range 16 {
				g := q.scaleIndex(j0+j+r, p)
				scales[r], zeros[r] = q.Scales[g], q.zero(g)
			}
			d := &dst[(p-p0)*nr+j]
			src := &q.Codes[(j0+j)*rb+p*q.Bits/8]
			if q.Bits == 8 {
				packT16Q8(d, nr, src, rb, (end-p)/16, &scales[0], &zeros[0])
			} else {
				packT16Q4(d, nr, src, rb, (end-p)/16, &scales[0], &zeros[0])
			}
			p = end
		}
	}
	return rows
}
