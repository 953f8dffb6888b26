#!/bin/sh
# Builds the CPU reference of the kernel library (build/libcrank_ref.so) with g++. Without g++ it
# says so and succeeds: the parity tests then skip with the same reason, and nothing else breaks.
set -eu
cd "$(dirname "$0")/.."
mkdir -p build
if ! command -v g++ >/dev/null 2>&1; then
  echo "native-ref: g++ not found; build/libcrank_ref.so not built (the kernel parity tests will skip)"
  rm -f build/libcrank_ref.so
  exit 0
fi
g++ -O2 -std=c++17 -Wall -Wextra -shared -fPIC native/cpu/reference.cpp -o build/libcrank_ref.so
echo "native-ref: built build/libcrank_ref.so"
