#!/usr/bin/env bash
# Runs hyquant's GPU parity tests and the mini benchmark on a machine with an
# NVIDIA GPU and prints a table for BENCHMARKS.md. Needs no Go there: build
# the binaries on a development machine with tools/gpu/build.sh (they land in
# .devcarry/gpu/, gzipped), copy the checkout with .devcarry/gpu/ over, then run
#
#	bash tools/gpu/run.sh [results-dir]
#
# With nvcc on the PATH the kernels are first recompiled (kernels/cuda/kernels.cu
# to results-dir/kernels.ptx) and the binaries load that PTX instead of the
# embedded one (HYQUANT_CUDA_PTX), so a kernel change is tested in the same run.
set -uo pipefail
cd "$(dirname "$0")/../.."
bin=.devcarry/gpu
res=${1:-/tmp/hyquant-gpu}
mkdir -p "$res"
for f in "$bin"/*.gz; do gunzip -c "$f" >"${f%.gz}" && chmod +x "${f%.gz}"; done
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$res/gpu.txt"
(ldconfig -p | grep -E "libcuda.so|libcublas"; ls /usr/local/cuda/lib64 2>/dev/null | grep -i cublas; nvcc --version | tail -2) >>"$res/gpu.txt" 2>&1
if command -v nvcc >/dev/null && [ -z "${NO_PTX:-}" ]; then
	(cd kernels/cuda && nvcc -ptx -arch=sm_80 -O3 -o "$res/kernels.ptx" kernels.cu) || exit 1
	export HYQUANT_CUDA_PTX=$res/kernels.ptx
	cmp -s "$res/kernels.ptx" kernels/cuda/kernels.ptx && echo "kernels.ptx: the committed PTX is current" || echo "kernels.ptx: differs from the committed PTX (commit $res/kernels.ptx)"
fi
status=0
(cd kernels/cuda && "../../$bin/cuda.test" -test.v -test.count=1) 2>&1 | tee "$res/tests.txt" || status=1
(cd runtime/gpu && "../../$bin/gpu.test" -test.v -test.count=1) 2>&1 | tee -a "$res/tests.txt" || status=1
hq() { "$bin/hyquant" eval --model models/nemotron-h-mini --json "$@" 2>>"$res/eval.err" || { status=1; tail -3 "$res/eval.err"; }; }
hq --device cuda >"$res/eval_cuda_1024.json"
hq --device cuda --seq-len 512 >"$res/eval_cuda_512.json"
hq --device cuda --cuda-math tf32 >"$res/eval_cuda_tf32_1024.json"
hq --device cpu --max-windows 32 >"$res/eval_cpu_1024_32.json"
python3 - "$res" <<'PY'
import json, sys, os
res = sys.argv[1]
print("\n| run | windows x seq | ppl | reference | rel. diff | seconds | tokens/s |")
print("|---|---|---|---|---|---|---|")
for f, ref in (("eval_cuda_1024.json", 157.4956), ("eval_cuda_512.json", 159.9367), ("eval_cuda_tf32_1024.json", 157.4956), ("eval_cpu_1024_32.json", None)):
    p = os.path.join(res, f)
    try:
        r = json.load(open(p))
    except Exception as e:
        print(f"| {f} | failed: {e} | | | | | |"); continue
    rel = f"{(r['ppl'] - ref) / ref:+.2e}" if ref else ""
    dev = f"{r['device']}, {r['cuda_math']}" if r.get("device") else f"cpu, {r['threads']} threads"
    print(f"| {f[:-5]} ({dev}) | {r['windows']} x {r['seq_len']} | {r['ppl']:.6f} | {ref or ''} | {rel} | {r['seconds']:.3f} | {r['tokens_per_second']:.0f} |")
PY
grep -E "^(--- |ok|FAIL|PASS)|max \|diff\|" "$res/tests.txt" | sed 's/^/  /'
exit $status
