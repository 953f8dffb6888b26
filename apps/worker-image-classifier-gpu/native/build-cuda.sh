#!/bin/sh
# Builds the CUDA kernel library (build/libcrank_cuda.so) with nvcc for sm_80 and sm_90, plus PTX
# for later GPUs; the CUDA runtime is linked in statically, so the file needs only the driver.
# Without nvcc it says so and succeeds: the worker then reports classify.image not ready.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build
NVCC="${NVCC:-nvcc}"
if ! command -v "$NVCC" >/dev/null 2>&1; then
  echo "native-cuda: nvcc not found; build/libcrank_cuda.so not built (classify.image will not be ready)"
  rm -f build/libcrank_cuda.so
  exit 0
fi
"$NVCC" -O3 -std=c++17 -shared -Xcompiler -fPIC -cudart static \
  -gencode arch=compute_80,code=sm_80 \
  -gencode arch=compute_90,code=sm_90 \
  -gencode arch=compute_90,code=compute_90 \
  native/cuda/kernels.cu -o build/libcrank_cuda.so
echo "native-cuda: built build/libcrank_cuda.so"
