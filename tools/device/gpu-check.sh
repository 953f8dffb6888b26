#!/bin/sh
# The GPU image classifier's checks on a GPU machine, in one go: GPU parity tests (identical top-1
# and probabilities within 1e-3 against onnxruntime's CPU run, a batch of 64, an out-of-memory
# request answered with RESOURCE_EXHAUSTED), then the benchmark. Logs and figures go to $OUT.
#
# It runs from a repository tree with node_modules installed and the GPU app built (dist/ and
# build/libcrank_ref.so). Where the machine has no Node, an xz-compressed `node` binary is unpacked
# from $CRANK_NODE_XZ (default: tools/device/node.xz beside this script). Where
# build/libcrank_cuda.so is missing and nvcc is present, it is built first.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-$ROOT/tmp/gpu-check}
mkdir -p "$OUT"
cd "$ROOT"
status=0

NODE=$(command -v node || true)
if [ -z "$NODE" ]; then
  XZ=${CRANK_NODE_XZ:-$ROOT/tools/device/node.xz}
  if [ ! -f "$XZ" ]; then
    echo "gpu-check: no node on PATH and no $XZ to unpack" | tee "$OUT/gpu-check.log"
    exit 1
  fi
  BIN=$(mktemp -d)
  xz -dc "$XZ" > "$BIN/node" && chmod +x "$BIN/node"
  NODE="$BIN/node"
  PATH="$BIN:$PATH"
  export PATH
fi
"$NODE" --version > "$OUT/node-version.txt" 2>&1
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || echo "gpu-check: nvidia-smi failed (see nvidia-smi.txt)"

APP=apps/worker-image-classifier-gpu
if [ ! -f "$APP/build/libcrank_cuda.so" ]; then
  sh "$APP/native/build-cuda.sh" > "$OUT/build-cuda.log" 2>&1 || status=1
fi
[ -f "$APP/build/libcrank_ref.so" ] || sh "$APP/native/build-reference.sh" > "$OUT/build-reference.log" 2>&1

# The GPU tests, and the CPU reference's beside them for the record.
(cd "$APP" && "$NODE" --experimental-vm-modules --no-warnings=ExperimentalWarning \
  ../../node_modules/jest/bin/jest.js --ci test/gpu-parity.test.ts test/reference-parity.test.ts) \
  > "$OUT/gpu-tests.log" 2>&1 || status=1
grep -E "GPU tests skipped|GPU parity|Tests:" "$OUT/gpu-tests.log"

"$NODE" tools/bench/gpu/run.mjs --out "$OUT" > "$OUT/bench.log" 2>&1 || status=1
tail -n 80 "$OUT/bench.log"

echo "gpu-check: status $status; logs and figures in $OUT"
exit $status
