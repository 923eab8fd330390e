#!/usr/bin/env bash
# Build libllama from the llama-cpp-python 0.3.36 sdist on PyPI (only the `llama` target: the
# package's full build takes over 20 minutes here), for conformance/llamacpp. Prints the two
# variables the suite needs; idempotent (a built library is reused).
set -euo pipefail
cd "$(dirname "$0")/../.."
VERSION=0.3.36
DIR=.build/llamacpp
SRC=$DIR/llama_cpp_python-$VERSION
if [ ! -f "$DIR/build/bin/libllama.so" ]; then
  mkdir -p "$DIR"
  [ -d "$SRC" ] || {
    python3 -m pip download -q --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$DIR" >&2
    tar xzf "$DIR/llama_cpp_python-$VERSION.tar.gz" -C "$DIR"
  }
  cmake -S "$SRC/vendor/llama.cpp" -B "$DIR/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
    -DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF >&2
  cmake --build "$DIR/build" --target llama -j"$(nproc)" >&2
fi
echo "export PYTHONPATH=$PWD/$SRC LLAMA_CPP_LIB_PATH=$PWD/$DIR/build/bin"
