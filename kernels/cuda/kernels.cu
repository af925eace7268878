// hyquant's CUDA kernels for the fp32 forward pass of NemotronH, each the
// device twin of a piece of runtime/ (named in its comment). Compiled to
// PTX by go generate:
//
//	nvcc -ptx -arch=sm_80 -O3 -o kernels.ptx kernels.cu
//
// Matrices are row-major, sizes are int, a "row" is one token of a batch of
// windows laid end to end (row = window*n + t). Reductions that the CPU
// runtime accumulates in float64 (RMSNorm's mean square, log-sum-exp) are
// accumulated in double here too; sums of products of two floats are exact
// in double, so fused multiply-adds do not change them. Block sizes are
// multiples of 32, at most 1024.

#define FULL 0xffffffffu

// Warp and block reductions: a butterfly over the lanes, then one value
// per warp combined by the first warp (the same tree for every operation
// and type, so the sums are the ones the kernels have always taken).
struct SumOp {
  template <typename T>
  __device__ __forceinline__ T operator()(T a, T b) const { return a + b; }
};
struct MaxOp {
  __device__ __forceinline__ float operator()(float a, float b) const { return fmaxf(a, b); }
};

// The best logit of a row and its index (the lowest index among equal
// values), for argmax reductions.
struct ArgMax {
  float v;
  int i;
};
struct ArgMaxOp {
  __device__ __forceinline__ ArgMax operator()(ArgMax a, ArgMax b) const { return (b.v > a.v || (b.v == a.v && b.i < a.i)) ? b : a; }
};

__device__ __forceinline__ float shfl_xor(float v, int o) { return __shfl_xor_sync(FULL, v, o); }
__device__ __forceinline__ double shfl_xor(double v, int o) { return __shfl_xor_sync(FULL, v, o); }
__device__ __forceinline__ int shfl_xor(int v, int o) { return __shfl_xor_sync(FULL, v, o); }
__device__ __forceinline__ ArgMax shfl_xor(ArgMax v, int o) { return ArgMax{shfl_xor(v.v, o), shfl_xor(v.i, o)}; }

template <typename T, typename Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, shfl_xor(v, o));
  return v;
}

// Every thread of the block must call it; identity pads the missing warps.
template <typename T, typename Op>
__device__ T block_reduce(T v, Op op, T identity) {
  __shared__ T sh[32];
  int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  v = warp_reduce(v, op);
  __syncthreads();
  if (lane == 0) sh[w] = v;
  __syncthreads();
  v = (int)threadIdx.x < nw ? sh[threadIdx.x] : identity;
  if (w == 0) v = warp_reduce(v, op);
  if (threadIdx.x == 0) sh[0] = v;
  __syncthreads();
  return sh[0];
}

__device__ __forceinline__ float warp_sum_f(float v) { return warp_reduce(v, SumOp()); }
__device__ __forceinline__ double block_sum_d(double v) { return block_reduce(v, SumOp(), 0.0); }
__device__ __forceinline__ float block_sum_f(float v) { return block_reduce(v, SumOp(), 0.0f); }
__device__ __forceinline__ float block_max_f(float v) { return block_reduce(v, MaxOp(), -INFINITY); }

// kernels.SiLU: v / (1 + exp(-v)).
__device__ __forceinline__ float silu(float v) { return v / (1.0f + expf(-v)); }

// Model.EmbedTokens: out[r] = table[ids[r]]; one block per row.
extern "C" __global__ void embed_rows(float* out, const float* table, const int* ids, int rows, int d) {
  int r = blockIdx.x;
  if (r >= rows) return;
  const float* src = table + (long long)ids[r] * d;
  float* dst = out + (long long)r * d;
  for (int j = threadIdx.x; j < d; j += blockDim.x) dst[j] = src[j];
}

// rmsNorm / normalizeRow: out = w * (x * float(1/sqrt(mean(x^2) + eps))),
// the mean in double; one block per row. out may be x.
extern "C" __global__ void rmsnorm(float* out, const float* x, const float* w, int rows, int d, double eps) {
  int r = blockIdx.x;
  if (r >= rows) return;
  const float* xr = x + (long long)r * d;
  float* o = out + (long long)r * d;
  double ss = 0;
  for (int j = threadIdx.x; j < d; j += blockDim.x) {
    double v = xr[j];
    ss += v * v;
  }
  ss = block_sum_d(ss);
  float inv = (float)(1.0 / sqrt(ss / d + eps));
  for (int j = threadIdx.x; j < d; j += blockDim.x) o[j] = w[j] * (xr[j] * inv);
}

// RunBlock's residual: h += m.
extern "C" __global__ void add_inplace(float* h, const float* m, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    h[i] = h[i] + m[i];
}

// A Linear's bias: y[r][j] += b[j].
extern "C" __global__ void add_bias(float* y, const float* b, int rows, int out) {
  long long n = (long long)rows * out;
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    y[i] = y[i] + b[i % out];
}

// kernels.ReLU2: max(x, 0)^2.
extern "C" __global__ void relu2_inplace(float* x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
    float v = x[i];
    x[i] = v > 0.0f ? v * v : 0.0f;
  }
}

// kernels.SiLU in place.
extern "C" __global__ void silu_inplace(float* x, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    x[i] = silu(x[i]);
}

// Mamba2Mixer's causal depthwise conv1d + SiLU: for row r = (window, t) and
// channel c < cd, out[r][c] = silu(bias[c] + sum_k convT[k][c] *
// proj[r-(K-1)+k][off+c]) over the taps inside the window, added in the
// CPU's order without fused multiply-adds.
extern "C" __global__ void conv_silu(float* out, const float* proj, const float* convT, const float* bias,
                                     int rows, int n, int cd, int pw, int off, int K) {
  long long idx = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (idx >= (long long)rows * cd) return;
  int r = (int)(idx / cd), c = (int)(idx % cd);
  int t = r % n;
  float v = bias[c];
  for (int k = 0; k < K; k++) {
    int src = t - (K - 1) + k;
    if (src < 0) continue;
    v = __fadd_rn(v, __fmul_rn(convT[k * cd + c], proj[(long long)(r - (K - 1) + k) * pw + off + c]));
  }
  out[idx] = silu(v);
}

// Mamba2Mixer's time steps: dt = clamp(softplus(proj[r][off+h] + dtBias[h]),
// dtMin, dtMax) (kernels.Softplus: x above 20 is kept, else log1p(exp(x)) in
// double) and the decay dA = exp(dt * A[h]).
extern "C" __global__ void mamba_dt(float* dt, float* dA, const float* proj, const float* dtBias, const float* A,
                                    int rows, int H, int pw, int off, float dtMin, float dtMax) {
  int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= rows * H) return;
  int r = idx / H, h = idx % H;
  float v = __fadd_rn(proj[(long long)r * pw + off + h], dtBias[h]);
  if (!(v > 20.0f)) v = (float)log1p(exp((double)v));
  v = fminf(fmaxf(v, dtMin), dtMax);
  dt[idx] = v;
  dA[idx] = expf(__fmul_rn(v, A[h]));
}

// kernels.SSMScan for every (window, head, channel p): one warp holds the
// N states of channel p (lane l has states l, l+32, ...) and walks the
// window's n tokens:
//
//	S[n] = S[n]*dA + dt*x[p]*B[n];  y[p] = sum_n S[n]*C[n] + D*x[p]
//
// x, B and C are read from the conv output rows (width cd: x at h*P, B at
// I+g*N, C at I+G*N+g*N, g = the head's group); y rows have width I.
#define SCAN_MAXS 8 // N <= 256
extern "C" __global__ void ssm_scan(float* y, const float* xbc, const float* dt, const float* dA, const float* D,
                                    int batch, int n, int H, int P, int N, int G, int cd, int I) {
  int warp = (int)((blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5);
  int lane = threadIdx.x & 31;
  if (warp >= batch * H * P) return;
  int p = warp % P, h = (warp / P) % H, b = warp / (P * H);
  int g = h / (H / G);
  float s[SCAN_MAXS];
#pragma unroll
  for (int i = 0; i < SCAN_MAXS; i++) s[i] = 0.0f;
  float Dh = D[h];
  const float* base = xbc + (long long)b * n * cd;
  const float* dtb = dt + (long long)b * n * H + h;
  const float* dAb = dA + (long long)b * n * H + h;
  float* yb = y + (long long)b * n * I + h * P + p;
  const int xo = h * P + p, bo = I + g * N, co = I + G * N + g * N;
  for (int t = 0; t < n; t++) {
    const float* row = base + (long long)t * cd;
    float x = row[xo];
    float dtv = dtb[(long long)t * H], dAv = dAb[(long long)t * H];
    float u = dtv * x;
    float acc = 0.0f;
#pragma unroll
    for (int i = 0; i < SCAN_MAXS; i++) {
      int k = lane + 32 * i;
      if (k < N) {
        s[i] = s[i] * dAv + u * row[bo + k];
        acc += s[i] * row[co + k];
      }
    }
    acc = warp_sum_f(acc);
    if (lane == 0) yb[(long long)t * I] = acc + Dh * x;
  }
}

// ssm_scan with four channels per warp: the warp of (window, head, channels
// p0..p0+3) loads B and C once for all four, keeps the 4×N states in
// registers (lane l has states l, l+32, ... of each channel; NS per lane),
// and sums over the states only every 8 tokens: the 32 partial sums of a
// lane (8 tokens × 4 channels) are reduced across the warp together by a
// transposing butterfly (31 shuffles, after which lane l holds the sum of
// token l/4, channel l%4) instead of one 5-shuffle reduction per token and
// channel. Needs P % 4 == 0 and N <= 32*NS.
// One butterfly stage: each lane keeps the half of its first 2W partial
// sums its bit W selects and adds the partner's copy of that half.
template <int W>
__device__ __forceinline__ void bfly(float* part, int lane) {
  bool hi = (lane & W) != 0;
#pragma unroll
  for (int i = 0; i < W; i++) {
    float send = hi ? part[i] : part[i + W];
    float keep = hi ? part[i + W] : part[i];
    part[i] = keep + __shfl_xor_sync(FULL, send, W);
  }
}

template <int NS>
__device__ __forceinline__ void scan4(float* y, const float* xbc, const float* dt, const float* dA, const float* D,
                                      int batch, int n, int H, int P, int N, int G, int cd, int I) {
  int warp = (int)((blockIdx.x * (long long)blockDim.x + threadIdx.x) >> 5);
  int lane = threadIdx.x & 31;
  int PC = P / 4;
  if (warp >= batch * H * PC) return;
  int pc = warp % PC, h = (warp / PC) % H, b = warp / (PC * H);
  int p0 = pc * 4, g = h / (H / G);
  float s[4][NS];
#pragma unroll
  for (int c = 0; c < 4; c++)
#pragma unroll
    for (int i = 0; i < NS; i++) s[c][i] = 0.0f;
  float Dh = D[h];
  const float* base = xbc + (long long)b * n * cd;
  const float* dtb = dt + (long long)b * n * H + h;
  const float* dAb = dA + (long long)b * n * H + h;
  float* yb = y + (long long)b * n * I + h * P + p0;
  const int xo = h * P + p0, bo = I + g * N + lane, co = I + G * N + g * N + lane;
  for (int t0 = 0; t0 < n; t0 += 8) {
    float part[32];
#pragma unroll
    for (int tt = 0; tt < 8; tt++) {
      int t = t0 + tt;
      if (t < n) {
        const float* row = base + (long long)t * cd;
        float dtv = dtb[(long long)t * H], dAv = dAb[(long long)t * H];
        float Bv[NS], Cv[NS];
#pragma unroll
        for (int i = 0; i < NS; i++) {
          bool in = lane + 32 * i < N;
          Bv[i] = in ? row[bo + 32 * i] : 0.0f;
          Cv[i] = in ? row[co + 32 * i] : 0.0f;
        }
#pragma unroll
        for (int c = 0; c < 4; c++) {
          float u = dtv * row[xo + c];
          float acc = 0.0f;
#pragma unroll
          for (int i = 0; i < NS; i++) {
            s[c][i] = s[c][i] * dAv + u * Bv[i];
            acc += s[c][i] * Cv[i];
          }
          part[tt * 4 + c] = acc;
        }
      } else {
#pragma unroll
        for (int c = 0; c < 4; c++) part[tt * 4 + c] = 0.0f;
      }
    }
    bfly<16>(part, lane);
    bfly<8>(part, lane);
    bfly<4>(part, lane);
    bfly<2>(part, lane);
    bfly<1>(part, lane);
    int t = t0 + (lane >> 2), c = lane & 3;
    if (t < n) yb[(long long)t * I + c] = part[0] + Dh * base[(long long)t * cd + xo + c];
  }
}

extern "C" __global__ void ssm_scan4_ns2(float* y, const float* xbc, const float* dt, const float* dA, const float* D,
                                        int batch, int n, int H, int P, int N, int G, int cd, int I) {
  scan4<2>(y, xbc, dt, dA, D, batch, n, H, P, N, G, cd, I);
}
extern "C" __global__ void ssm_scan4_ns4(float* y, const float* xbc, const float* dt, const float* dA, const float* D,
                                        int batch, int n, int H, int P, int N, int G, int cd, int I) {
  scan4<4>(y, xbc, dt, dA, D, batch, n, H, P, N, G, cd, I);
}
extern "C" __global__ void ssm_scan4_ns8(float* y, const float* xbc, const float* dt, const float* dA, const float* D,
                                        int batch, int n, int H, int P, int N, int G, int cd, int I) {
  scan4<8>(y, xbc, dt, dA, D, batch, n, H, P, N, G, cd, I);
}

// Mamba2Mixer's gated, grouped RMSNorm: y *= silu(gate) (gate = proj[r][0:I]),
// then each group of I/G values is normalised (mean square in double) and
// scaled by w. One block per (row, group).
extern "C" __global__ void gated_rmsnorm(float* y, const float* proj, const float* w, int rows, int I, int G, int pw, double eps) {
  int r = blockIdx.x / G, g = blockIdx.x % G;
  if (r >= rows) return;
  int gs = I / G;
  float* yr = y + (long long)r * I + g * gs;
  const float* gate = proj + (long long)r * pw + g * gs;
  const float* wr = w + g * gs;
  double ss = 0;
  for (int j = threadIdx.x; j < gs; j += blockDim.x) {
    float v = yr[j] * silu(gate[j]);
    yr[j] = v;
    ss += (double)v * v;
  }
  ss = block_sum_d(ss);
  float inv = (float)(1.0 / sqrt(ss / gs + eps));
  for (int j = threadIdx.x; j < gs; j += blockDim.x) yr[j] = wr[j] * (yr[j] * inv);
}

// Attention's causal softmax over score rows (n×n per window and head,
// row i = query i): row[j] *= scale, softmax over keys 0..i, zeros after.
// One block per row.
extern "C" __global__ void causal_softmax(float* S, int n, float scale) {
  long long r = blockIdx.x;
  int i = (int)(r % n);
  float* row = S + r * n;
  float m = -INFINITY;
  for (int j = threadIdx.x; j <= i; j += blockDim.x) {
    float v = row[j] * scale;
    row[j] = v;
    m = fmaxf(m, v);
  }
  m = block_max_f(m);
  float s = 0.0f;
  for (int j = threadIdx.x; j <= i; j += blockDim.x) {
    float e = expf(row[j] - m);
    row[j] = e;
    s += e;
  }
  s = block_sum_f(s);
  float inv = 1.0f / s;
  for (int j = threadIdx.x; j < n; j += blockDim.x) row[j] = j <= i ? row[j] * inv : 0.0f;
}

// Model.NLL: out[r] = logsumexp(logits[r]) - logits[r][targets[r]] (max
// shifted, the sum in double); rows with a negative target get 0. One block
// per row.
extern "C" __global__ void nll_rows(double* out, const float* logits, const int* targets, int rows, int V) {
  int r = blockIdx.x;
  if (r >= rows) return;
  const float* x = logits + (long long)r * V;
  float m = -INFINITY;
  for (int j = threadIdx.x; j < V; j += blockDim.x) m = fmaxf(m, x[j]);
  m = block_max_f(m);
  double s = 0;
  for (int j = threadIdx.x; j < V; j += blockDim.x) s += (double)expf(x[j] - m);
  s = block_sum_d(s);
  if (threadIdx.x == 0) {
    int t = targets[r];
    out[r] = t >= 0 ? (double)m + log(s) - (double)x[t] : 0.0;
  }
}

// eval.CompareContext's per-position comparison of two logits rows (the
// model's x, the baseline's b), one block per row: out[3r] = KL(P_b ||
// P_x) in double (exp in double, as eval's compareRows), out[3r+1] and
// out[3r+2] the next-token losses of x and b (as nll_rows), tops[2r] and
// tops[2r+1] the argmax tokens of x and b (lowest index on ties); bad[r]
// = 1 when a logit of either row is not finite (the rest is then 0).
extern "C" __global__ void compare_rows(double* out, int* tops, int* bad, const float* lx, const float* lb, const int* targets, int rows, int V) {
  int r = blockIdx.x;
  if (r >= rows) return;
  const float* x = lx + (long long)r * V;
  const float* b = lb + (long long)r * V;
  ArgMax ax{-INFINITY, V}, ab{-INFINITY, V};
  int nonfinite = 0;
  for (int j = threadIdx.x; j < V; j += blockDim.x) {
    float xv = x[j], bv = b[j];
    if (!isfinite(xv) || !isfinite(bv)) nonfinite = 1;
    ax = ArgMaxOp()(ax, ArgMax{xv, j});
    ab = ArgMaxOp()(ab, ArgMax{bv, j});
  }
  ax = block_reduce(ax, ArgMaxOp(), ArgMax{-INFINITY, V});
  ab = block_reduce(ab, ArgMaxOp(), ArgMax{-INFINITY, V});
  nonfinite = block_reduce(nonfinite, SumOp(), 0);
  if (nonfinite) {
    if (threadIdx.x == 0) {
      bad[r] = 1;
      out[3 * r] = out[3 * r + 1] = out[3 * r + 2] = 0.0;
      tops[2 * r] = tops[2 * r + 1] = 0;
    }
    return;
  }
  double mx = ax.v, mb = ab.v, sx = 0, sb = 0, fx = 0, fb = 0;
  for (int j = threadIdx.x; j < V; j += blockDim.x) {
    sx += exp((double)x[j] - mx);
    sb += exp((double)b[j] - mb);
    fx += (double)expf(x[j] - ax.v);
    fb += (double)expf(b[j] - ab.v);
  }
  sx = block_sum_d(sx);
  sb = block_sum_d(sb);
  fx = block_sum_d(fx);
  fb = block_sum_d(fb);
  double c = (mb + log(sb)) - (mx + log(sx));
  double kl = 0;
  for (int j = threadIdx.x; j < V; j += blockDim.x) {
    double bj = b[j];
    kl += exp(bj - mb) / sb * ((bj - (double)x[j]) - c);
  }
  kl = block_sum_d(kl);
  if (threadIdx.x == 0) {
    int t = targets[r];
    bad[r] = 0;
    out[3 * r] = kl;
    out[3 * r + 1] = t >= 0 ? (double)ax.v + log(fx) - (double)x[t] : 0.0;
    out[3 * r + 2] = t >= 0 ? (double)ab.v + log(fb) - (double)b[t] : 0.0;
    tops[2 * r] = ax.i;
    tops[2 * r + 1] = ab.i;
  }
}

// Calibration statistics (quant/calib's Collector): acc += g, a float
// gram added into float64 sums.
extern "C" __global__ void add_f64(double* acc, const float* g, long long n) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    acc[i] += (double)g[i];
}

// Per-column sums (float64, in row order) and absolute maxima of rows×cols
// inputs, added to sum and absmax; one thread per column.
extern "C" __global__ void column_stats(double* sum, float* absmax, const float* x, int rows, int cols) {
  int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  double s = sum[j];
  float m = absmax[j];
  for (int r = 0; r < rows; r++) {
    float v = x[(long long)r * cols + j];
    s += (double)v;
    m = fmaxf(m, fabsf(v));
  }
  sum[j] = s;
  absmax[j] = m;
}

#include "formats.cuh"
