// Package cuda runs hyquant's kernels on an NVIDIA GPU without cgo: the CUDA
// driver library (libcuda.so.1) and cuBLAS (libcublas.so.13, else .so.12)
// are loaded at run time with purego, and the kernels (kernels.cu, compiled
// to PTX for sm_80 by go generate and embedded) are loaded with
// cuModuleLoadData. Without a usable GPU every entry point fails at once
// with an error naming what is missing; nothing falls back to the CPU.
package cuda

//go:generate nvcc -ptx -arch=sm_80 -O3 -o kernels.ptx kernels.cu

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The CUDA driver API entry points hyquant uses (the _v2 names are the
// current ABI of the 64-bit calls).
var (
	cuInit                    func(flags uint32) int32
	cuDriverGetVersion        func(v *int32) int32
	cuDeviceGetCount          func(n *int32) int32
	cuDeviceGet               func(dev *int32, ordinal int32) int32
	cuDeviceGetName           func(name *byte, n int32, dev int32) int32
	cuDeviceGetAttribute      func(v *int32, attr int32, dev int32) int32
	cuDeviceTotalMem          func(bytes *uint64, dev int32) int32
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) int32
	cuDevicePrimaryCtxRelease func(dev int32) int32
	cuCtxSetCurrent           func(ctx uintptr) int32
	cuCtxSynchronize          func() int32
	cuStreamCreate            func(s *uintptr, flags uint32) int32
	cuStreamDestroy           func(s uintptr) int32
	cuStreamSynchronize       func(s uintptr) int32
	cuMemAlloc                func(p *uint64, bytes uint64) int32
	cuMemFree                 func(p uint64) int32
	cuMemGetInfo              func(free, total *uint64) int32
	cuMemcpyHtoD              func(dst uint64, src unsafe.Pointer, bytes uint64) int32
	cuMemcpyDtoH              func(dst unsafe.Pointer, src uint64, bytes uint64) int32
	cuMemcpyDtoDAsync         func(dst, src uint64, bytes uint64, s uintptr) int32
	cuMemsetD32Async          func(dst uint64, v uint32, n uint64, s uintptr) int32
	cuModuleLoadDataEx        func(m *uintptr, image unsafe.Pointer, nopt uint32, opts unsafe.Pointer, vals unsafe.Pointer) int32
	cuModuleUnload            func(m uintptr) int32
	cuModuleGetFunction       func(f *uintptr, m uintptr, name string) int32
	cuLaunchKernel            func(f uintptr, gx, gy, gz, bx, by, bz, shm uint32, s uintptr, params unsafe.Pointer, extra unsafe.Pointer) int32
	cuGetErrorName            func(r int32, s **byte) int32
	cuGetErrorString          func(r int32, s **byte) int32
	cuFuncSetAttribute        func(f uintptr, attr int32, v int32) int32
)

// cuBLAS entry points.
var (
	cublasCreate              func(h *uintptr) int32
	cublasDestroy             func(h uintptr) int32
	cublasSetStream           func(h uintptr, s uintptr) int32
	cublasSetMathMode         func(h uintptr, mode int32) int32
	cublasGetVersion          func(h uintptr, v *int32) int32
	cublasSgemm               func(h uintptr, ta, tb int32, m, n, k int32, alpha *float32, a uint64, lda int32, b uint64, ldb int32, beta *float32, c uint64, ldc int32) int32
	cublasSgemmStridedBatched func(h uintptr, ta, tb int32, m, n, k int32, alpha *float32, a uint64, lda int32, sa int64, b uint64, ldb int32, sb int64, beta *float32, c uint64, ldc int32, sc int64, batch int32) int32
	cublasSsyrk               func(h uintptr, uplo, trans int32, n, k int32, alpha *float32, a uint64, lda int32, beta *float32, c uint64, ldc int32) int32
	cublasDsyrk               func(h uintptr, uplo, trans int32, n, k int32, alpha *float64, a uint64, lda int32, beta *float64, c uint64, ldc int32) int32
	cublasDgemm               func(h uintptr, ta, tb int32, m, n, k int32, alpha *float64, a uint64, lda int32, b uint64, ldb int32, beta *float64, c uint64, ldc int32) int32
	cublasDgeam               func(h uintptr, ta, tb int32, m, n int32, alpha *float64, a uint64, lda int32, beta *float64, b uint64, ldb int32, c uint64, ldc int32) int32
	cublasGemmEx              func(h uintptr, ta, tb int32, m, n, k int32, alpha unsafe.Pointer, a uint64, at int32, lda int32, b uint64, bt int32, ldb int32, beta unsafe.Pointer, c uint64, ct int32, ldc int32, compute int32, algo int32) int32
)

var (
	loadOnce   sync.Once
	loadErr    error
	driverPath string
	cublasPath string
)

// The first driver that JIT-compiles the committed PTX: nvcc 13.0 writes
// PTX ISA 9.0, which needs a CUDA 13.0 driver (R580). PTX from nvcc 12.x
// (ISA 8.x) would run on CUDA 12 drivers; regenerate with that nvcc and
// lower this to use them.
const minDriverVersion = 13000

// load opens the libraries and checks the driver once per process.
func load() error {
	loadOnce.Do(func() { loadErr = loadLibs() })
	return loadErr
}

func loadLibs() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("cuda: the CUDA backend runs on Linux only (this is %s/%s)", runtime.GOOS, runtime.GOARCH)
	}
	h, path, err := openFirst(driverCandidates())
	if err != nil {
		return fmt.Errorf("cuda: the NVIDIA driver library libcuda.so.1 was not found (is the NVIDIA driver installed? set HYQUANT_LIBCUDA to its path): %v", err)
	}
	driverPath = path
	if err := register(h, path, []fn{
		{&cuInit, "cuInit"}, {&cuDriverGetVersion, "cuDriverGetVersion"}, {&cuDeviceGetCount, "cuDeviceGetCount"},
		{&cuDeviceGet, "cuDeviceGet"}, {&cuDeviceGetName, "cuDeviceGetName"}, {&cuDeviceGetAttribute, "cuDeviceGetAttribute"},
		{&cuDeviceTotalMem, "cuDeviceTotalMem_v2"}, {&cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain"},
		{&cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2"}, {&cuCtxSetCurrent, "cuCtxSetCurrent"},
		{&cuCtxSynchronize, "cuCtxSynchronize"}, {&cuStreamCreate, "cuStreamCreate"}, {&cuStreamDestroy, "cuStreamDestroy_v2"},
		{&cuStreamSynchronize, "cuStreamSynchronize"}, {&cuMemAlloc, "cuMemAlloc_v2"}, {&cuMemFree, "cuMemFree_v2"},
		{&cuMemGetInfo, "cuMemGetInfo_v2"}, {&cuMemcpyHtoD, "cuMemcpyHtoD_v2"}, {&cuMemcpyDtoH, "cuMemcpyDtoH_v2"},
		{&cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2"}, {&cuMemsetD32Async, "cuMemsetD32Async"},
		{&cuModuleLoadDataEx, "cuModuleLoadDataEx"}, {&cuModuleUnload, "cuModuleUnload"},
		{&cuModuleGetFunction, "cuModuleGetFunction"}, {&cuLaunchKernel, "cuLaunchKernel"},
		{&cuGetErrorName, "cuGetErrorName"}, {&cuGetErrorString, "cuGetErrorString"}, {&cuFuncSetAttribute, "cuFuncSetAttribute"},
	}); err != nil {
		return err
	}
	if r := cuInit(0); r != 0 {
		return fmt.Errorf("cuda: cuInit failed (%s, driver %s): no usable NVIDIA GPU or driver", errName(r), path)
	}
	var v int32
	if r := cuDriverGetVersion(&v); r != 0 {
		return fmt.Errorf("cuda: cuDriverGetVersion: %s", errName(r))
	}
	if v < minDriverVersion {
		return fmt.Errorf("cuda: the NVIDIA driver supports CUDA %s, hyquant needs %s or later (update the driver)", versionString(v), versionString(minDriverVersion))
	}
	var n int32
	if r := cuDeviceGetCount(&n); r != 0 || n == 0 {
		return fmt.Errorf("cuda: the driver (CUDA %s) sees no GPU (%s)", versionString(v), errName(r))
	}
	hb, bpath, err := openCublas()
	if err != nil {
		return fmt.Errorf("cuda: cuBLAS (libcublas.so.13 or .so.12) was not found (install the CUDA toolkit or the nvidia-cublas package, or set HYQUANT_LIBCUBLAS to its path): %v", err)
	}
	cublasPath = bpath
	return register(hb, bpath, []fn{
		{&cublasCreate, "cublasCreate_v2"}, {&cublasDestroy, "cublasDestroy_v2"}, {&cublasSetStream, "cublasSetStream_v2"},
		{&cublasSetMathMode, "cublasSetMathMode"}, {&cublasGetVersion, "cublasGetVersion_v2"},
		{&cublasSgemm, "cublasSgemm_v2"}, {&cublasSgemmStridedBatched, "cublasSgemmStridedBatched"}, {&cublasGemmEx, "cublasGemmEx"},
		{&cublasSsyrk, "cublasSsyrk_v2"}, {&cublasDgemm, "cublasDgemm_v2"}, {&cublasDsyrk, "cublasDsyrk_v2"}, {&cublasDgeam, "cublasDgeam"},
	})
}

type fn struct {
	ptr  any
	name string
}

func register(h uintptr, path string, fns []fn) error {
	for _, f := range fns {
		sym, err := purego.Dlsym(h, f.name)
		if err != nil {
			return fmt.Errorf("cuda: %s has no %s (too old?): %v", path, f.name, err)
		}
		purego.RegisterFunc(f.ptr, sym)
	}
	return nil
}

// openFirst opens the first of paths that loads; the error quotes the
// loader's message for the first and names the others tried.
func openFirst(paths []string) (uintptr, string, error) {
	var first error
	for _, p := range paths {
		h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return h, p, nil
		}
		if first == nil {
			first = err
		}
	}
	return 0, "", fmt.Errorf("%v (also tried %s)", first, strings.Join(paths[1:], ", "))
}

func driverCandidates() []string {
	var c []string
	if p := os.Getenv("HYQUANT_LIBCUDA"); p != "" {
		c = append(c, p)
	}
	return append(c, "libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1",
		"/usr/local/nvidia/lib64/libcuda.so.1", "/usr/lib/wsl/lib/libcuda.so.1")
}

// openCublas tries libcublas.so.13 then .so.12: first by name (the loader's
// paths), then in the usual toolkit folders and pip's nvidia-cublas wheels.
// libcublasLt from the same folder is opened first, so a copy outside the
// loader's paths finds it.
func openCublas() (uintptr, string, error) {
	var dirs []string
	if p := os.Getenv("HYQUANT_LIBCUBLAS"); p != "" {
		if h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
			return h, p, nil
		} else {
			return 0, "", fmt.Errorf("HYQUANT_LIBCUBLAS=%s: %v", p, err)
		}
	}
	for _, e := range []string{"CUDA_PATH", "CUDA_HOME"} {
		if p := os.Getenv(e); p != "" {
			dirs = append(dirs, filepath.Join(p, "lib64"), filepath.Join(p, "lib"))
		}
	}
	dirs = append(dirs, "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu", "/opt/cuda/lib64")
	for _, g := range []string{"/usr/local/cuda-*/lib64", "/usr/local/lib/python3*/dist-packages/nvidia/cu*/lib", "/usr/local/lib/python3*/dist-packages/nvidia/cublas/lib",
		"/opt/*/.venv/lib/python3*/site-packages/nvidia/cu*/lib", "/opt/*/.venv/lib/python3*/site-packages/nvidia/cublas/lib",
		"/usr/lib/python3*/site-packages/nvidia/cublas/lib"} {
		m, _ := filepath.Glob(g)
		sort.Sort(sort.Reverse(sort.StringSlice(m)))
		dirs = append(dirs, m...)
	}
	var errs []string
	for _, ver := range []string{"13", "12"} {
		name := "libcublas.so." + ver
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return h, name, nil
		}
		errs = append(errs, err.Error())
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			purego.Dlopen(filepath.Join(d, "libcublasLt.so."+ver), purego.RTLD_NOW|purego.RTLD_GLOBAL)
			h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
			if err == nil {
				return h, p, nil
			}
			errs = append(errs, err.Error())
		}
	}
	return 0, "", fmt.Errorf("%s (also looked in %s)", strings.Join(errs, "; "), strings.Join(dirs, ", "))
}

func versionString(v int32) string { return fmt.Sprintf("%d.%d", v/1000, v%1000/10) }

// errName renders a CUresult as its name and description.
func errName(r int32) string {
	var name, desc *byte
	if cuGetErrorName == nil || cuGetErrorName(r, &name) != 0 {
		return fmt.Sprintf("CUresult %d", r)
	}
	cuGetErrorString(r, &desc)
	return fmt.Sprintf("%s: %s", cstr(name), cstr(desc))
}

// cstr copies a NUL-terminated C string owned by the driver.
func cstr(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for i := 0; i < 4096; i++ {
		c := *(*byte)(unsafe.Add(unsafe.Pointer(p), i))
		if c == 0 {
			break
		}
		b = append(b, c)
	}
	return string(b)
}

// check turns a CUresult into an error naming the call.
func check(call string, r int32) error {
	if r == 0 {
		return nil
	}
	return fmt.Errorf("cuda: %s: %s", call, errName(r))
}

// cublasStatus names cuBLAS's status codes.
func cublasCheck(call string, s int32) error {
	if s == 0 {
		return nil
	}
	names := map[int32]string{1: "NOT_INITIALIZED", 3: "ALLOC_FAILED", 7: "INVALID_VALUE", 8: "ARCH_MISMATCH", 11: "MAPPING_ERROR",
		13: "EXECUTION_FAILED", 14: "INTERNAL_ERROR", 15: "NOT_SUPPORTED", 16: "LICENSE_ERROR"}
	n := names[s]
	if n == "" {
		n = fmt.Sprint(s)
	}
	return fmt.Errorf("cuda: %s: CUBLAS_STATUS_%s", call, n)
}
