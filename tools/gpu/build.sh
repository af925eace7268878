#!/usr/bin/env bash
# Builds what tools/gpu/run.sh runs on a GPU machine without Go: the test
# binaries of kernels/cuda and runtime/gpu and hyquant itself, pure Go
# (CGO_ENABLED=0), without the embedded model (the checkout carries it),
# stripped and gzipped into .devcarry/gpu/ (git-ignored) to stay small.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .devcarry/gpu
rm -f .devcarry/gpu/*
export CGO_ENABLED=0 GOOS=linux GOARCH=amd64
flags=(-tags hyquant_noembed -ldflags "-s -w" -trimpath)
go test -c "${flags[@]}" -o .devcarry/gpu/cuda.test ./kernels/cuda
go test -c "${flags[@]}" -o .devcarry/gpu/gpu.test ./runtime/gpu
go build "${flags[@]}" -o .devcarry/gpu/hyquant ./cmd/hyquant
gzip -9 .devcarry/gpu/cuda.test .devcarry/gpu/gpu.test .devcarry/gpu/hyquant
ls -l .devcarry/gpu
