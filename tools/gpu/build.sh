#!/usr/bin/env bash
# Builds what tools/gpu/run.sh runs on a GPU machine without Go: the test
# binaries of kernels/cuda and runtime/gpu and hyquant itself, pure Go
# (CGO_ENABLED=0), without the embedded model (the checkout carries it),
# stripped and packed into .devcarry/gpu/bins.tar.xz (git-ignored) to stay
# small (a GPU machine's copy of the checkout is limited to 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .devcarry/gpu
rm -f .devcarry/gpu/*
export CGO_ENABLED=0 GOOS=linux GOARCH=amd64
flags=(-tags hyquant_noembed -ldflags "-s -w" -trimpath)
go test -c "${flags[@]}" -o .devcarry/gpu/cuda.test ./kernels/cuda
go test -c "${flags[@]}" -o .devcarry/gpu/gpu.test ./runtime/gpu
go test -c "${flags[@]}" -o .devcarry/gpu/gpucalib.test ./runtime/gpu/gpucalib
go build "${flags[@]}" -o .devcarry/gpu/hyquant ./cmd/hyquant
(cd .devcarry/gpu && tar cf - cuda.test gpu.test gpucalib.test hyquant | xz -9e >bins.tar.xz && rm cuda.test gpu.test gpucalib.test hyquant)
ls -l .devcarry/gpu
