package cuda

import (
	_ "embed"
	"fmt"
	"math"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// kernelsPTX is kernels.cu compiled by go generate (nvcc -ptx -arch=sm_80).
//
//go:embed kernels.ptx
var kernelsPTX []byte

// Device is one GPU with its primary context, a stream, a cuBLAS handle
// and hyquant's kernels loaded. Its methods may be called from any
// goroutine but not concurrently: each call binds the context to its OS
// thread for its duration, and a mutex serialises them.
type Device struct {
	mu      sync.Mutex
	ordinal int32
	ctx     uintptr
	stream  uintptr
	blas    uintptr
	module  uintptr
	funcs   map[string]uintptr
	st      *Stream // on the heap: launches point the driver into its args

	Name          string
	Major, Minor  int // compute capability
	Multiprocs    int
	TotalMem      uint64
	DriverVersion string
	BlasVersion   int
	DriverPath    string
	BlasPath      string
}

// Available reports why no GPU can be used, or nil when device 0 opens.
func Available() error {
	d, err := Open(0)
	if err != nil {
		return err
	}
	d.Close()
	return nil
}

// Open opens GPU ordinal (0 for the first), loading the libraries on first
// use. The error names what is missing: the driver library, a driver new
// enough, a device, cuBLAS, or a device of compute capability 8.0 or
// later (the PTX targets sm_80).
func Open(ordinal int) (*Device, error) {
	if err := load(); err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var n int32
	cuDeviceGetCount(&n)
	if ordinal < 0 || int32(ordinal) >= n {
		return nil, fmt.Errorf("cuda: device %d does not exist (the driver sees %d)", ordinal, n)
	}
	d := &Device{ordinal: int32(ordinal), funcs: map[string]uintptr{}, DriverPath: driverPath, BlasPath: cublasPath}
	d.st = &Stream{d: d}
	var dev int32
	if err := check("cuDeviceGet", cuDeviceGet(&dev, int32(ordinal))); err != nil {
		return nil, err
	}
	d.ordinal = dev
	name := make([]byte, 256)
	cuDeviceGetName(&name[0], int32(len(name)), dev)
	d.Name = strings.TrimRight(string(name), "\x00")
	var v int32
	cuDeviceGetAttribute(&v, 75, dev)
	d.Major = int(v)
	cuDeviceGetAttribute(&v, 76, dev)
	d.Minor = int(v)
	cuDeviceGetAttribute(&v, 16, dev)
	d.Multiprocs = int(v)
	cuDeviceTotalMem(&d.TotalMem, dev)
	cuDriverGetVersion(&v)
	d.DriverVersion = versionString(v)
	if d.Major < 8 {
		return nil, fmt.Errorf("cuda: device %d (%s) has compute capability %d.%d; hyquant's kernels need 8.0 (Ampere) or later", ordinal, d.Name, d.Major, d.Minor)
	}
	if err := check("cuDevicePrimaryCtxRetain", cuDevicePrimaryCtxRetain(&d.ctx, dev)); err != nil {
		return nil, err
	}
	if err := d.init(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Device) init() error {
	if err := check("cuCtxSetCurrent", cuCtxSetCurrent(d.ctx)); err != nil {
		return err
	}
	if err := check("cuStreamCreate", cuStreamCreate(&d.stream, 0)); err != nil {
		return err
	}
	if err := cublasCheck("cublasCreate", cublasCreate(&d.blas)); err != nil {
		return err
	}
	var v int32
	cublasGetVersion(d.blas, &v)
	d.BlasVersion = int(v)
	if err := cublasCheck("cublasSetStream", cublasSetStream(d.blas, d.stream)); err != nil {
		return err
	}
	// Plain fp32 products (no TF32): the parity mode.
	if err := cublasCheck("cublasSetMathMode", cublasSetMathMode(d.blas, 0)); err != nil {
		return err
	}
	ptx := kernelsPTX
	if p := os.Getenv("HYQUANT_CUDA_PTX"); p != "" { // a freshly built kernels.ptx, for development
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("cuda: HYQUANT_CUDA_PTX: %v", err)
		}
		ptx = b
	}
	return d.loadModule(ptx)
}

func (d *Device) loadModule(ptx []byte) error {
	img := append(append([]byte(nil), ptx...), 0)
	logBuf := make([]byte, 8192)
	opts := []int32{5, 6} // CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES
	vals := []uintptr{uintptr(unsafe.Pointer(&logBuf[0])), uintptr(len(logBuf))}
	r := cuModuleLoadDataEx(&d.module, unsafe.Pointer(&img[0]), 2, unsafe.Pointer(&opts[0]), unsafe.Pointer(&vals[0]))
	runtime.KeepAlive(logBuf)
	runtime.KeepAlive(img)
	if r != 0 {
		return fmt.Errorf("cuda: loading the embedded PTX on %s (sm_%d%d, driver CUDA %s): %s: %s", d.Name, d.Major, d.Minor, d.DriverVersion, errName(r),
			strings.TrimRight(string(logBuf), "\x00"))
	}
	return nil
}

// Close releases the stream, the cuBLAS handle, the module and the context.
func (d *Device) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if d.ctx == 0 {
		return
	}
	cuCtxSetCurrent(d.ctx)
	cuCtxSynchronize()
	if d.blas != 0 {
		cublasDestroy(d.blas)
	}
	if d.module != 0 {
		cuModuleUnload(d.module)
	}
	if d.stream != 0 {
		cuStreamDestroy(d.stream)
	}
	cuDevicePrimaryCtxRelease(d.ordinal)
	d.ctx = 0
}

// String describes the device.
func (d *Device) String() string {
	return fmt.Sprintf("%s (sm_%d%d, %d SMs, %.0f GiB, driver CUDA %s, cuBLAS %d)", d.Name, d.Major, d.Minor, d.Multiprocs,
		float64(d.TotalMem)/(1<<30), d.DriverVersion, d.BlasVersion)
}

// enter binds the context to the calling OS thread and holds the device.
func (d *Device) enter() error {
	d.mu.Lock()
	runtime.LockOSThread()
	if d.ctx == 0 {
		runtime.UnlockOSThread()
		d.mu.Unlock()
		return fmt.Errorf("cuda: device is closed")
	}
	if err := check("cuCtxSetCurrent", cuCtxSetCurrent(d.ctx)); err != nil {
		runtime.UnlockOSThread()
		d.mu.Unlock()
		return err
	}
	return nil
}

func (d *Device) exit() {
	runtime.UnlockOSThread()
	d.mu.Unlock()
}

// Run calls f with the device bound to the calling thread, holding it for
// the whole of f: a forward pass issues its hundreds of launches inside one
// Run. Inside f use the Stream methods of s, never d's own methods.
func (d *Device) Run(f func(s *Stream) error) error {
	if err := d.enter(); err != nil {
		return err
	}
	defer d.exit()
	return f(d.st)
}

// Stream issues work on the device's stream; it exists only inside Run.
type Stream struct {
	d    *Device
	args [32]uint64
	ptrs [32]uintptr
	prof map[string]*OpTime // when profiling: each op synchronised and timed
}

// OpTime is the wall time of one kind of operation under Profile.
type OpTime struct {
	Calls int
	Time  time.Duration
}

// Profile makes every later launch and product of f wait for the device and
// adds its wall time under its name (kernels by name, cuBLAS products as
// "sgemm" or "sgemm_batched"), then returns the table. It slows the run
// (one synchronisation per operation); it is for finding where time goes.
func (d *Device) Profile(f func() error) (map[string]*OpTime, error) {
	d.st.prof = map[string]*OpTime{}
	defer func() { d.st.prof = nil }()
	err := f()
	return d.st.prof, err
}

// timed runs op, timing it under name() when profiling.
func (s *Stream) timed(name func() string, op func() error) error {
	if s.prof == nil {
		return op()
	}
	if err := s.Sync(); err != nil {
		return err
	}
	t0 := time.Now()
	if err := op(); err != nil {
		return err
	}
	err := s.Sync()
	key := name()
	e := s.prof[key]
	if e == nil {
		e = &OpTime{}
		s.prof[key] = e
	}
	e.Calls++
	e.Time += time.Since(t0)
	return err
}

// Buffer is device memory.
type Buffer struct {
	Ptr   uint64
	Bytes int
}

// Float offsets a float32 buffer by i elements.
func (b Buffer) Float(i int) uint64 { return b.Ptr + uint64(4*i) }

// Alloc allocates bytes of device memory (not cleared).
func (s *Stream) Alloc(bytes int) (Buffer, error) {
	if bytes <= 0 {
		return Buffer{}, nil
	}
	var p uint64
	if r := cuMemAlloc(&p, uint64(bytes)); r != 0 {
		var free, total uint64
		cuMemGetInfo(&free, &total)
		return Buffer{}, fmt.Errorf("cuda: allocating %d MiB on %s (%d MiB free of %d): %s", bytes>>20, s.d.Name, free>>20, total>>20, errName(r))
	}
	return Buffer{Ptr: p, Bytes: bytes}, nil
}

// Free releases a buffer (a zero Buffer is ignored).
func (s *Stream) Free(b Buffer) {
	if b.Ptr != 0 {
		cuMemFree(b.Ptr)
	}
}

// Grow makes *b hold at least bytes: a smaller buffer is freed and
// replaced (its contents are not kept; on failure *b is the zero Buffer).
func (s *Stream) Grow(b *Buffer, bytes int) error {
	if b.Bytes >= bytes {
		return nil
	}
	s.Free(*b)
	var err error
	*b, err = s.Alloc(bytes)
	return err
}

// MemInfo returns the free and total device memory.
func (s *Stream) MemInfo() (free, total uint64) {
	cuMemGetInfo(&free, &total)
	return
}

// UploadFloats allocates a buffer holding x.
func (s *Stream) UploadFloats(x []float32) (Buffer, error) {
	b, err := s.Alloc(4 * len(x))
	if err != nil || len(x) == 0 {
		return b, err
	}
	return b, s.CopyFloatsIn(b, 0, x)
}

// CopyFloatsIn copies x to b starting at element off (synchronous).
func (s *Stream) CopyFloatsIn(b Buffer, off int, x []float32) error {
	if len(x) == 0 {
		return nil
	}
	return s.copyIn(b, 4*off, unsafe.Pointer(&x[0]), 4*len(x), "floats")
}

// CopyFloat64sIn copies x to b starting at element off (synchronous).
func (s *Stream) CopyFloat64sIn(b Buffer, off int, x []float64) error {
	if len(x) == 0 {
		return nil
	}
	return s.copyIn(b, 8*off, unsafe.Pointer(&x[0]), 8*len(x), "float64s")
}

// CopyInt32sIn copies x to b starting at element off (synchronous).
func (s *Stream) CopyInt32sIn(b Buffer, off int, x []int32) error {
	if len(x) == 0 {
		return nil
	}
	return s.copyIn(b, 4*off, unsafe.Pointer(&x[0]), 4*len(x), "int32s")
}

// CopyBytesIn copies x to b starting at byte off (synchronous).
func (s *Stream) CopyBytesIn(b Buffer, off int, x []byte) error {
	if len(x) == 0 {
		return nil
	}
	return s.copyIn(b, off, unsafe.Pointer(&x[0]), len(x), "bytes")
}

// UploadBytes allocates a buffer holding x.
func (s *Stream) UploadBytes(x []byte) (Buffer, error) {
	b, err := s.Alloc(len(x))
	if err != nil || len(x) == 0 {
		return b, err
	}
	return b, s.CopyBytesIn(b, 0, x)
}

// copyIn copies n bytes from host memory at src to b at byte off, after
// the stream's earlier work.
func (s *Stream) copyIn(b Buffer, off int, src unsafe.Pointer, n int, what string) error {
	if off < 0 || off+n > b.Bytes {
		return fmt.Errorf("cuda: copy of %d bytes (%s) at byte %d into a buffer of %d bytes", n, what, off, b.Bytes)
	}
	if err := s.Sync(); err != nil {
		return err
	}
	return check("cuMemcpyHtoD", cuMemcpyHtoD(b.Ptr+uint64(off), src, uint64(n)))
}

// CopyFloatsOut waits for the stream and copies len(dst) floats from b at
// element off.
func (s *Stream) CopyFloatsOut(dst []float32, b Buffer, off int) error {
	if len(dst) == 0 {
		return nil
	}
	return s.copyOut(unsafe.Pointer(&dst[0]), b, 4*off, 4*len(dst), "floats")
}

// CopyFloat64sOut waits for the stream and copies len(dst) float64s from b.
func (s *Stream) CopyFloat64sOut(dst []float64, b Buffer) error {
	return s.CopyFloat64sOutAt(dst, b, 0)
}

// CopyFloat64sOutAt waits for the stream and copies len(dst) float64s from
// b at element off.
func (s *Stream) CopyFloat64sOutAt(dst []float64, b Buffer, off int) error {
	if len(dst) == 0 {
		return nil
	}
	return s.copyOut(unsafe.Pointer(&dst[0]), b, 8*off, 8*len(dst), "float64s")
}

// CopyInt32sOut waits for the stream and copies len(dst) int32s from b.
func (s *Stream) CopyInt32sOut(dst []int32, b Buffer) error {
	if len(dst) == 0 {
		return nil
	}
	return s.copyOut(unsafe.Pointer(&dst[0]), b, 0, 4*len(dst), "int32s")
}

// copyOut waits for the stream and copies n bytes of b from byte off to
// host memory at dst.
func (s *Stream) copyOut(dst unsafe.Pointer, b Buffer, off, n int, what string) error {
	if off < 0 || off+n > b.Bytes {
		return fmt.Errorf("cuda: copy of %d bytes (%s) at byte %d out of a buffer of %d bytes", n, what, off, b.Bytes)
	}
	if err := s.Sync(); err != nil {
		return err
	}
	return check("cuMemcpyDtoH", cuMemcpyDtoH(dst, b.Ptr+uint64(off), uint64(n)))
}

// Copy copies bytes between device buffers on the stream.
func (s *Stream) Copy(dst, src uint64, bytes int) error {
	return check("cuMemcpyDtoDAsync", cuMemcpyDtoDAsync(dst, src, uint64(bytes), s.d.stream))
}

// Zero clears n float32s at p on the stream.
func (s *Stream) Zero(p uint64, n int) error {
	return check("cuMemsetD32Async", cuMemsetD32Async(p, 0, uint64(n), s.d.stream))
}

// Sync waits for the stream's work and reports a failed kernel.
func (s *Stream) Sync() error {
	return check("cuStreamSynchronize", cuStreamSynchronize(s.d.stream))
}

// Arg is one kernel argument: a device pointer, an int32, a float32 or a
// float64 (see P, I, F, F64).
type Arg struct {
	v uint64
}

// P is a device pointer argument.
func P(p uint64) Arg { return Arg{p} }

// I is an int argument (CUDA int, 32 bits).
func I(v int) Arg { return Arg{uint64(uint32(int32(v)))} }

// I64 is a long long argument.
func I64(v int) Arg { return Arg{uint64(int64(v))} }

// F is a float argument.
func F(v float32) Arg { return Arg{uint64(math.Float32bits(v))} }

// F64 is a double argument.
func F64(v float64) Arg { return Arg{math.Float64bits(v)} }

// Launch runs kernel name on a grid of blocks of threads (1-D each).
func (s *Stream) Launch(name string, grid, block, shared int, args ...Arg) error {
	return s.Launch3(name, [3]int{grid, 1, 1}, [3]int{block, 1, 1}, shared, args...)
}

// Launch3 runs a kernel on a 3-D grid of 3-D blocks.
func (s *Stream) Launch3(name string, grid, block [3]int, shared int, args ...Arg) error {
	if s.prof != nil {
		return s.timed(func() string { return name }, func() error { return s.launch3(name, grid, block, shared, args...) })
	}
	return s.launch3(name, grid, block, shared, args...)
}

func (s *Stream) launch3(name string, grid, block [3]int, shared int, args ...Arg) error {
	f, ok := s.d.funcs[name]
	if !ok {
		if err := check("cuModuleGetFunction "+name, cuModuleGetFunction(&f, s.d.module, name)); err != nil {
			return err
		}
		s.d.funcs[name] = f
	}
	if len(args) > len(s.args) {
		return fmt.Errorf("cuda: %s: %d arguments, at most %d", name, len(args), len(s.args))
	}
	if grid[0] <= 0 || grid[1] <= 0 || grid[2] <= 0 {
		return nil // nothing to do
	}
	for i, a := range args {
		s.args[i] = a.v
		s.ptrs[i] = uintptr(unsafe.Pointer(&s.args[i]))
	}
	r := cuLaunchKernel(f, uint32(grid[0]), uint32(grid[1]), uint32(grid[2]), uint32(block[0]), uint32(block[1]), uint32(block[2]),
		uint32(shared), s.d.stream, unsafe.Pointer(&s.ptrs[0]), nil)
	runtime.KeepAlive(s)
	if r != 0 {
		return fmt.Errorf("cuda: launching %s (grid %v, block %v): %s", name, grid, block, errName(r))
	}
	return nil
}

// Transpose modes of GEMM operands.
const (
	NoTrans = 0
	Trans   = 1
)

// Sgemm is cuBLAS's column-major C = alpha·op(A)·op(B) + beta·C in fp32.
func (s *Stream) Sgemm(ta, tb int, m, n, k int, alpha float32, a uint64, lda int, b uint64, ldb int, beta float32, c uint64, ldc int) error {
	return s.timed(func() string { return fmt.Sprintf("sgemm %dx%dx%d", m, n, k) }, func() error {
		return cublasCheck("cublasSgemm", cublasSgemm(s.d.blas, int32(ta), int32(tb), int32(m), int32(n), int32(k), &alpha, a, int32(lda), b, int32(ldb), &beta, c, int32(ldc)))
	})
}

// SgemmStridedBatched is Sgemm over batch matrices at fixed strides (in
// floats) from a, b and c.
func (s *Stream) SgemmStridedBatched(ta, tb int, m, n, k int, alpha float32, a uint64, lda, sa int, b uint64, ldb, sb int, beta float32, c uint64, ldc, sc, batch int) error {
	return s.timed(func() string { return "sgemm_batched" }, func() error {
		return cublasCheck("cublasSgemmStridedBatched", cublasSgemmStridedBatched(s.d.blas, int32(ta), int32(tb), int32(m), int32(n), int32(k), &alpha,
			a, int32(lda), int64(sa), b, int32(ldb), int64(sb), &beta, c, int32(ldc), int64(sc), int32(batch)))
	})
}

// Triangles of a symmetric product (cublasFillMode_t).
const (
	Lower = 0
	Upper = 1
)

// Ssyrk is cuBLAS's column-major C = alpha·op(A)·op(A)ᵀ + beta·C in fp32,
// C n×n symmetric, of which only the uplo triangle is written.
func (s *Stream) Ssyrk(uplo, trans int, n, k int, alpha float32, a uint64, lda int, beta float32, c uint64, ldc int) error {
	return s.timed(func() string { return fmt.Sprintf("ssyrk %dx%d", n, k) }, func() error {
		return cublasCheck("cublasSsyrk", cublasSsyrk(s.d.blas, int32(uplo), int32(trans), int32(n), int32(k), &alpha, a, int32(lda), &beta, c, int32(ldc)))
	})
}

// Dsyrk is Ssyrk in fp64.
func (s *Stream) Dsyrk(uplo, trans int, n, k int, alpha float64, a uint64, lda int, beta float64, c uint64, ldc int) error {
	return s.timed(func() string { return "dsyrk" }, func() error {
		return cublasCheck("cublasDsyrk", cublasDsyrk(s.d.blas, int32(uplo), int32(trans), int32(n), int32(k), &alpha, a, int32(lda), &beta, c, int32(ldc)))
	})
}

// Dgemm is cuBLAS's column-major C = alpha·op(A)·op(B) + beta·C in fp64.
func (s *Stream) Dgemm(ta, tb int, m, n, k int, alpha float64, a uint64, lda int, b uint64, ldb int, beta float64, c uint64, ldc int) error {
	return s.timed(func() string { return "dgemm" }, func() error {
		return cublasCheck("cublasDgemm", cublasDgemm(s.d.blas, int32(ta), int32(tb), int32(m), int32(n), int32(k), &alpha, a, int32(lda), b, int32(ldb), &beta, c, int32(ldc)))
	})
}

// CopyMatrix64 copies the column-major m×n float64 matrix at a (leading
// dimension lda) to c (leading dimension ldc) on the device: a block of
// columns of a row-major matrix made contiguous (cuBLAS's Dgeam with
// C = 1·A + 0·A).
func (s *Stream) CopyMatrix64(m, n int, a uint64, lda int, c uint64, ldc int) error {
	one, zero := 1.0, 0.0
	return s.timed(func() string { return "dgeam" }, func() error {
		return cublasCheck("cublasDgeam", cublasDgeam(s.d.blas, NoTrans, NoTrans, int32(m), int32(n), &one, a, int32(lda), &zero, a, int32(lda), c, int32(ldc)))
	})
}

// SetTF32 switches cuBLAS's fp32 products to TF32 tensor cores (10-bit
// mantissa inputs, fp32 accumulation) or back to plain fp32, the default
// and the parity mode. A runtime/gpu model sets its math at each pass.
func (s *Stream) SetTF32(on bool) error {
	mode := int32(0) // CUBLAS_DEFAULT_MATH
	if on {
		mode = 3 // CUBLAS_TF32_TENSOR_OP_MATH
	}
	return cublasCheck("cublasSetMathMode", cublasSetMathMode(s.d.blas, mode))
}

// cuBLAS data and compute types (library_types.h, cublas_api.h).
const (
	cudaR32F      = 0
	cudaR16BF     = 14
	cublasCompute = 68 // CUBLAS_COMPUTE_32F
	gemmDefault   = -1 // CUBLAS_GEMM_DEFAULT
)

// LinearRowsBF16 is LinearRows with x and W in bf16 and y in fp32: the
// products of bf16 values accumulated in fp32 (cublasGemmEx with
// CUBLAS_COMPUTE_32F), bf16 tensor cores.
func (s *Stream) LinearRowsBF16(y, x, w uint64, rows, out, in int, accumulate bool) error {
	alpha, beta := float32(1), float32(0)
	if accumulate {
		beta = 1
	}
	return s.timed(func() string { return fmt.Sprintf("gemm_bf16 %dx%dx%d", out, rows, in) }, func() error {
		return cublasCheck("cublasGemmEx", cublasGemmEx(s.d.blas, Trans, NoTrans, int32(out), int32(rows), int32(in), unsafe.Pointer(&alpha),
			w, cudaR16BF, int32(in), x, cudaR16BF, int32(in), unsafe.Pointer(&beta), y, cudaR32F, int32(out), cublasCompute, gemmDefault))
	})
}

// LinearRows computes y[rows×out] = x[rows×in]·Wᵀ for row-major x and y and
// W stored out×in row-major (the nn.Linear layout), accumulating into y
// when accumulate is set.
func (s *Stream) LinearRows(y, x, w uint64, rows, out, in int, accumulate bool) error {
	var beta float32
	if accumulate {
		beta = 1
	}
	return s.Sgemm(Trans, NoTrans, out, rows, in, 1, w, in, x, in, beta, y, out)
}
