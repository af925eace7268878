#!/usr/bin/env bash
# Runs hyquant's GPU parity tests and the mini benchmark on a machine with an
# NVIDIA GPU and prints a table for BENCHMARKS.md. Needs no Go there: build
# the binaries on a development machine with tools/gpu/build.sh (they land in
# .devcarry/gpu/bins.tar.xz), copy the checkout with .devcarry/gpu/ over, then run
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
python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$bin/bins.tar.xz" "$bin" || exit 1
chmod +x "$bin"/*.test "$bin/hyquant"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$res/gpu.txt"
(ldconfig -p | grep -E "libcuda.so|libcublas"; ls /usr/local/cuda/lib64 2>/dev/null | grep -i cublas; nvcc --version | tail -2) >>"$res/gpu.txt" 2>&1
if command -v nvcc >/dev/null && [ -z "${NO_PTX:-}" ]; then
	(cd kernels/cuda && nvcc -ptx -arch=sm_80 -O3 -o "$res/kernels.ptx" kernels.cu) || exit 1
	export HYQUANT_CUDA_PTX=$res/kernels.ptx
	cmp -s "$res/kernels.ptx" kernels/cuda/kernels.ptx && echo "kernels.ptx: the committed PTX is current" || echo "kernels.ptx: differs from the committed PTX (commit $res/kernels.ptx)"
fi
status=0
# TESTS picks the test binaries (default all three: cuda gpu gpucalib).
: >"$res/tests.txt"
for t in ${TESTS-cuda gpu gpucalib}; do
	case $t in
	cuda) dir=kernels/cuda ;;
	gpu) dir=runtime/gpu ;;
	gpucalib) dir=runtime/gpu/gpucalib ;;
	*) echo "TESTS: unknown binary $t"; exit 1 ;;
	esac
	(cd $dir && "$OLDPWD/$bin/$t.test" -test.v -test.count=1) 2>&1 | tee -a "$res/tests.txt" || status=1
done
hq() { "$bin/hyquant" eval --model models/nemotron-h-mini --json "$@" 2>>"$res/eval.err" || { status=1; tail -3 "$res/eval.err"; }; }
# SKIP_MINI=1 leaves out the mini's evaluations below (the tests still run).
[ -n "${SKIP_MINI:-}" ] || {
q4km=runtime/testdata/nemotron-h-mini.Q4_K_M.gguf # llama-quantize's file of the mini
hq --device cuda >"$res/eval_cuda_1024.json"
hq --device cuda --seq-len 512 >"$res/eval_cuda_512.json"
hq --device cuda --cuda-math tf32 >"$res/eval_cuda_tf32_1024.json"
hq --device cuda --cuda-math bf16 >"$res/eval_cuda_bf16_1024.json"
hq --device cpu --max-windows 32 >"$res/eval_cpu_1024_32.json"
hq --device cpu --model $q4km >"$res/eval_cpu_q4km_1024.json"
hq --device cuda --model $q4km >"$res/eval_cuda_q4km_1024.json"
hq --device cuda --model $q4km --cuda-math bf16 >"$res/eval_cuda_q4km_bf16_1024.json"
hq --device cuda --model $q4km --baseline models/nemotron-h-mini >"$res/compare_cuda_q4km.json"
hq --device cpu --model $q4km --baseline models/nemotron-h-mini --max-windows 32 >"$res/compare_cpu_q4km_32.json"
hq --device cuda --model $q4km --baseline models/nemotron-h-mini --max-windows 32 >"$res/compare_cuda_q4km_32.json"
# GPTQ with the calibrated pass on the GPU, then a whole experiment there.
t0=$(date +%s%N)
"$bin/hyquant" quantize --plan tools/gpu/gptq-w4g128-all.yaml --segments 128 --length 1024 --device cuda --out /tmp/hq-mini-gptq --force --json >"$res/quantize_mini_gptq_cuda.json" 2>>"$res/eval.err" || status=1
echo "quantize --device cuda (mini, 128 x 1024): $(( ($(date +%s%N) - t0) / 1000000 )) ms" | tee "$res/timings.txt"
hq --device cuda --model /tmp/hq-mini-gptq --baseline models/nemotron-h-mini >"$res/compare_cuda_mini_gptq.json"
t0=$(date +%s%N)
"$bin/hyquant" run experiments/mini-quickstart.yaml --device cuda --quiet >"$res/run_quickstart_cuda.txt" 2>&1 || status=1
echo "run mini-quickstart --device cuda: $(( ($(date +%s%N) - t0) / 1000000 )) ms" | tee -a "$res/timings.txt"
cp results/mini-quickstart/results.json "$res/quickstart_cuda_results.json" 2>/dev/null
}
# The 8B shape (BIG=1): synthetic weights from the real config, windows of
# 2048; bf16 and TF32 on the bf16 checkpoint, and llama.cpp's Q4_K_M recipe
# quantised by hyquant (packed on the device, bf16 products).
if [ "${BIG:-}" = 1 ]; then # not with BIG=gptq, whose run needs the whole time
	big=${BIG_DIR:-/tmp/hyquant-8b}
	[ -f "$big/model.safetensors.index.json" ] || "$bin/hyquant" synth --config models/nemotron-h-8b-base-8k/config.json --out "$big" >"$res/synth.txt" 2>&1 || status=1
	hq8() { hq --model "$@" --device cuda --seq-len 2048 --max-windows 32; }
	hq8 "$big" --weights mapped --cuda-math bf16 >"$res/eval_8b_bf16_2048.json"
	hq8 "$big" --weights mapped --cuda-math tf32 >"$res/eval_8b_tf32_2048.json"
	[ -f "$big-q4km/config.json" ] || { "$bin/hyquant" quantize --model "$big" --plan llama-q4_k_m --out "$big-q4km" >"$res/quantize_8b.txt" 2>&1 || status=1; }
	hq8 "$big-q4km" --cuda-math bf16 >"$res/eval_8b_q4km_bf16_2048.json"
fi
# GPTQ of every linear of the 8B shape, 128 x 2048 calibration tokens,
# the calibrated pass on the GPU (BIG=gptq; GPTQ_TIMEOUT bounds it).
if [ "${BIG:-}" = gptq ]; then
	big=${BIG_DIR:-/tmp/hyquant-8b}
	[ -f "$big/model.safetensors.index.json" ] || "$bin/hyquant" synth --config models/nemotron-h-8b-base-8k/config.json --out "$big" >"$res/synth.txt" 2>&1 || status=1
	t0=$(date +%s%N)
	# A trace every 15 s: seconds, host memory in use, device memory, the
	# progress line (quantize's bar names the tensor it is on).
	(while sleep 15; do
		echo "$(( ($(date +%s%N) - t0) / 1000000000 )) s | host $(free -g | awk '/Mem:/{print $3}') GB | gpu $(nvidia-smi --query-gpu=memory.used --format=csv,noheader) | $(tr '\r' '\n' <"$res/quantize_8b_gptq.err" 2>/dev/null | grep -v '^ *$' | tail -1 | cut -c1-160)"
	done) >"$res/quantize_8b_gptq.trace" &
	tracer=$!
	HYQUANT_PROGRESS=lines timeout -k 10 "${GPTQ_TIMEOUT:-3000}" "$bin/hyquant" quantize --model "$big" --plan tools/gpu/gptq-w4g128-all.yaml --segments 128 --length 2048 --device cuda --out "$big-gptq" --force --cpuprofile "$res/quantize_8b_gptq.pprof" >"$res/quantize_8b_gptq.txt" 2>"$res/quantize_8b_gptq.err" || status=1
	kill $tracer
	echo "quantize --device cuda (8B shape, every linear GPTQ, 128 x 2048): $(( ($(date +%s%N) - t0) / 1000000 )) ms" | tee -a "$res/timings.txt"
fi
python3 - "$res" <<'PY'
import json, sys, os
res = sys.argv[1]
def load(f):
    try:
        return json.load(open(os.path.join(res, f)))
    except Exception as e:
        return e
cpu_q4km = load("eval_cpu_q4km_1024.json")
q4km_ref = cpu_q4km["ppl"] if isinstance(cpu_q4km, dict) else None
print("\n| run | windows x seq | ppl | reference | rel. diff | seconds | tokens/s | device memory | weights on the device |")
print("|---|---|---|---|---|---|---|---|---|")
for f, ref in (("eval_cuda_1024.json", 157.4956), ("eval_cuda_512.json", 159.9367), ("eval_cuda_tf32_1024.json", 157.4956), ("eval_cuda_bf16_1024.json", 157.4956),
               ("eval_cpu_1024_32.json", None), ("eval_cpu_q4km_1024.json", None), ("eval_cuda_q4km_1024.json", q4km_ref), ("eval_cuda_q4km_bf16_1024.json", q4km_ref),
               ("eval_8b_bf16_2048.json", None), ("eval_8b_tf32_2048.json", None), ("eval_8b_q4km_bf16_2048.json", None)):
    r = load(f)
    if not isinstance(r, dict):
        if f.startswith("eval_8b") and not os.path.exists(os.path.join(res, f)):
            continue
        print(f"| {f} | failed: {r} | | | | | | | |"); continue
    rel = f"{(r['ppl'] - ref) / ref:+.2e}" if ref else ""
    dev = f"{r['device']}, {r['cuda_math']}" if r.get("device") else f"cpu, {r['threads']} threads"
    mem = f"{r['gpu_memory_used_bytes'] / 1e9:.1f} GB" if r.get("gpu_memory_used_bytes") else ""
    print(f"| {f[:-5]} ({dev}) | {r['windows']} x {r['seq_len']} | {r['ppl']:.6f} | {ref or ''} | {rel} | {r['seconds']:.3f} | {r['tokens_per_second']:.0f} | {mem} | {r.get('gpu_weights', '')} |")
PY
python3 - "$res" <<'PY'
import json, sys, os
res = sys.argv[1]
print("\n| comparison | windows | device | ppl | ppl_base | mean KL | KL p99 | top-1 | seconds |")
print("|---|---|---|---|---|---|---|---|---|")
for f in ("compare_cpu_q4km_32.json", "compare_cuda_q4km_32.json", "compare_cuda_q4km.json", "compare_cuda_mini_gptq.json"):
    try:
        r = json.load(open(os.path.join(res, f)))
    except Exception as e:
        print(f"| {f} | failed: {e} | | | | | | | |"); continue
    print(f"| {f[:-5]} | {r['windows']} x {r['seq_len']} | {r.get('device', 'cpu')} | {r['ppl']:.6f} | {r['ppl_base']:.6f} | {r['mean_kl']:.6g} | {r['kl_p99']:.6g} | {r['top1_agreement']:.5f} | {r['seconds']:.2f} |")
PY
cat "$res/timings.txt" 2>/dev/null
grep -E "^(--- |ok|FAIL|PASS)|max \|diff\|" "$res/tests.txt" | sed 's/^/  /'
exit $status
