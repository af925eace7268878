// Weight formats on the device: conversions between fp32 and bf16, and the
// dequantisation of packed matrices into the type the products take (fp32
// or bf16), each the device twin of a Go decoder named in its comment. The
// fp32 output is bit-identical to the Go decoder (the same products, each
// rounded: __fmul_rn/__fsub_rn keep nvcc from fusing them); the bf16 output
// is that value rounded to nearest even. Included by kernels.cu.
//
// Matrices are row-major rows×cols; a packed matrix is its rows one after
// the other, so block i of the whole buffer holds values i·B … i·B+B-1 of
// the row-major matrix (B, the block length, divides cols).

#include <cuda_bf16.h>
#include <cuda_fp16.h>

__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const __nv_bfloat16* p) { return __bfloat162float(*p); }

// A little-endian binary16 at b, widened exactly.
__device__ __forceinline__ float half_at(const unsigned char* b) {
  return __half2float(__ushort_as_half((unsigned short)(b[0] | (b[1] << 8))));
}

#define GRID_STRIDE(i, n) \
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

template <typename D, typename S>
__device__ __forceinline__ void convert(D* out, const S* x, long long n) {
  GRID_STRIDE(i, n) store(out + i, load(x + i));
}

// Activations and weights to bf16 for the products (round to nearest even)
// and stored bf16 weights back to fp32 (exact).
extern "C" __global__ void f32_to_bf16(__nv_bfloat16* out, const float* x, long long n) { convert(out, x, n); }
extern "C" __global__ void bf16_to_f32(float* out, const __nv_bfloat16* x, long long n) { convert(out, x, n); }

// kernels.QMatrix (QMatrix.DecodeRow): codes of bits bits packed least
// significant bit first in rows of rowBytes bytes; w = scale[g]·(code −
// zero[g]), g = r·(cols/groupSize) + c/groupSize (0 when perTensor), zero
// from zeros (one byte per scale) or 2^(bits−1) when zeros is null.
template <typename T>
__device__ __forceinline__ void dequant_qmatrix(T* w, const unsigned char* codes, const float* scales, const unsigned char* zeros,
                                                int rows, int cols, int bits, int rowBytes, int groupSize, int perTensor) {
  unsigned mask = (1u << bits) - 1;
  int groups = perTensor ? 1 : cols / groupSize;
  GRID_STRIDE(i, (long long)rows * cols) {
    int r = (int)(i / cols), c = (int)(i - (long long)r * cols);
    const unsigned char* row = codes + (long long)r * rowBytes;
    int o = c * bits;
    unsigned x = row[o >> 3];
    if ((o & 7) + bits > 8) x |= (unsigned)row[(o >> 3) + 1] << 8;
    int code = (int)((x >> (o & 7)) & mask);
    int g = perTensor ? 0 : r * groups + c / groupSize;
    int zero = zeros ? (int)zeros[g] : 1 << (bits - 1);
    store(w + i, __fmul_rn(scales[g], (float)(code - zero)));
  }
}

// ggml's Q8_0 (kernels/ggml/q8_0.go): 34-byte blocks of 32, an fp16 scale
// and 32 signed bytes; value = q·d. One thread per value.
template <typename T>
__device__ __forceinline__ void dequant_q8_0(T* w, const unsigned char* src, long long blocks) {
  GRID_STRIDE(i, blocks * 32) {
    const unsigned char* b = src + (i >> 5) * 34;
    store(w + i, __fmul_rn((float)(signed char)b[2 + (i & 31)], half_at(b)));
  }
}

// The 6-bit scale and min of sub-block j of a K-quant super-block
// (kScalesMins in kernels/ggml/half.go).
__device__ __forceinline__ void scale_min_k4(int j, const unsigned char* s, float* sc, float* m) {
  if (j < 4) {
    *sc = (float)(s[j] & 63);
    *m = (float)(s[j + 4] & 63);
  } else {
    *sc = (float)((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
    *m = (float)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// ggml's Q4_K (q4_k.go) and Q5_K (q5_k.go): 256-value super-blocks with
// d, dmin (fp16) and eight 6-bit scales and mins; value = (d·scale)·q −
// dmin·min, each product rounded. Q5_K adds a fifth bit per value from
// qh (bit 2c of qh[l] for value 64c+l, bit 2c+1 for 64c+32+l). One thread
// per byte of quants (values 64c+l and 64c+32+l of a super-block).
template <typename T, bool Q5>
__device__ __forceinline__ void dequant_q45_k(T* w, const unsigned char* src, long long blocks) {
  const int bytes = Q5 ? 176 : 144, qs = Q5 ? 48 : 16;
  GRID_STRIDE(i, blocks * 128) {
    long long sb = i >> 7;
    int c = (int)(i >> 5) & 3, l = (int)i & 31;
    const unsigned char* b = src + sb * bytes;
    float d = half_at(b), dmin = half_at(b + 2), s1, m1, s2, m2;
    scale_min_k4(2 * c, b + 4, &s1, &m1);
    scale_min_k4(2 * c + 1, b + 4, &s2, &m2);
    unsigned x = b[qs + 32 * c + l];
    unsigned lo = x & 15, hi = x >> 4;
    if (Q5) {
      unsigned h = b[16 + l];
      lo |= ((h >> (2 * c)) & 1) << 4;
      hi |= ((h >> (2 * c + 1)) & 1) << 4;
    }
    T* y = w + sb * 256 + 64 * c + l;
    store(y, __fsub_rn(__fmul_rn(__fmul_rn(d, s1), (float)lo), __fmul_rn(dmin, m1)));
    store(y + 32, __fsub_rn(__fmul_rn(__fmul_rn(d, s2), (float)hi), __fmul_rn(dmin, m2)));
  }
}

// ggml's Q6_K (q6_k.go): 210-byte super-blocks of 256, low 4 bits in ql,
// top 2 in qh, sixteen signed 8-bit scales and an fp16 d; value =
// (d·scale)·(q − 32). One thread per (super-block, half h, l): values
// 128h + 32k + l for k = 0..3.
template <typename T>
__device__ __forceinline__ void dequant_q6_k(T* w, const unsigned char* src, long long blocks) {
  GRID_STRIDE(i, blocks * 64) {
    long long sb = i >> 6;
    int h = (int)(i >> 5) & 1, l = (int)i & 31;
    const unsigned char* b = src + sb * 210;
    const unsigned char* ql = b + 64 * h;
    const signed char* sc = (const signed char*)(b + 192);
    float d = half_at(b + 208);
    unsigned a = ql[l], c = ql[l + 32], hb = b[128 + 32 * h + l];
    int s = 8 * h + l / 16;
    int q[4] = {(int)((a & 15) | (hb & 3) << 4) - 32, (int)((c & 15) | ((hb >> 2) & 3) << 4) - 32,
                (int)((a >> 4) | ((hb >> 4) & 3) << 4) - 32, (int)((c >> 4) | (hb >> 6) << 4) - 32};
    T* y = w + sb * 256 + 128 * h + l;
#pragma unroll
    for (int k = 0; k < 4; k++) store(y + 32 * k, __fmul_rn(__fmul_rn(d, (float)sc[s + 2 * k]), (float)q[k]));
  }
}

// The entry points, one per format and output type.
#define QMATRIX_ARGS const unsigned char *codes, const float *scales, const unsigned char *zeros, int rows, int cols, int bits, int rowBytes, int groupSize, int perTensor
#define QMATRIX_CALL codes, scales, zeros, rows, cols, bits, rowBytes, groupSize, perTensor
extern "C" __global__ void dequant_qmatrix_f32(float* w, QMATRIX_ARGS) { dequant_qmatrix(w, QMATRIX_CALL); }
extern "C" __global__ void dequant_qmatrix_bf16(__nv_bfloat16* w, QMATRIX_ARGS) { dequant_qmatrix(w, QMATRIX_CALL); }
extern "C" __global__ void dequant_q8_0_f32(float* w, const unsigned char* src, long long blocks) { dequant_q8_0(w, src, blocks); }
extern "C" __global__ void dequant_q8_0_bf16(__nv_bfloat16* w, const unsigned char* src, long long blocks) { dequant_q8_0(w, src, blocks); }
extern "C" __global__ void dequant_q4_K_f32(float* w, const unsigned char* src, long long blocks) { dequant_q45_k<float, false>(w, src, blocks); }
extern "C" __global__ void dequant_q4_K_bf16(__nv_bfloat16* w, const unsigned char* src, long long blocks) { dequant_q45_k<__nv_bfloat16, false>(w, src, blocks); }
extern "C" __global__ void dequant_q5_K_f32(float* w, const unsigned char* src, long long blocks) { dequant_q45_k<float, true>(w, src, blocks); }
extern "C" __global__ void dequant_q5_K_bf16(__nv_bfloat16* w, const unsigned char* src, long long blocks) { dequant_q45_k<__nv_bfloat16, true>(w, src, blocks); }
extern "C" __global__ void dequant_q6_K_f32(float* w, const unsigned char* src, long long blocks) { dequant_q6_k(w, src, blocks); }
extern "C" __global__ void dequant_q6_K_bf16(__nv_bfloat16* w, const unsigned char* src, long long blocks) { dequant_q6_k(w, src, blocks); }
