#!/usr/bin/env bash
# torch-tests.sh tests the shim and the torch packages against the libtorch
# this machine (or container) has, in both ways Go can link the shim:
#
#   1. CMake builds libbt_torch.so (+ ctest programs) and ctest runs them;
#   2. go test -tags bt_shared ./torch/... links that library;
#   3. go test ./torch/... compiles the shim through cgo (the default build),
#      unless SKIP_CGO=1.
#
#   scripts/torch-tests.sh BUILD_DIR [CMAKE_ARGS...]
#
# `make test-shared` runs it here; `make test-libtorch2` runs it in a Debian
# trixie container against libtorch 2.6. GO names the go command.
set -euo pipefail

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [CMAKE_ARGS...]" >&2
	exit 2
fi
build=$1
shift
go=${GO:-go}
cd "$(dirname "$0")/.."
mkdir -p "$build"
build=$(cd "$build" && pwd)

step() { printf '== %s\n' "$*"; }
seconds() { echo $(($(date +%s) - $1)); }

t0=$(date +%s)
step "cmake: libbt_torch.so and the ctest programs in $build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBT_BUILD_BENCH=OFF "$@" >"$build/cmake-configure.log"
grep '^-- bt_torch:' "$build/cmake-configure.log" || true
cmake --build "$build" -j"${JOBS:-2}"
echo "cmake build: $(seconds "$t0") s"
(cd "$build" && ctest --output-on-failure)

t0=$(date +%s)
step "go test -tags bt_shared ./torch/... against $build/libbt_torch.so"
CGO_LDFLAGS="-L$build ${CGO_LDFLAGS:-}" LD_LIBRARY_PATH="$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
	"$go" test -tags bt_shared -count=1 ./torch/...
echo "shared-library go test: $(seconds "$t0") s"

if [ "${SKIP_CGO:-0}" != 1 ]; then
	t0=$(date +%s)
	step "go test ./torch/... (the shim compiled by cgo)"
	"$go" test -count=1 ./torch/...
	echo "cgo go test: $(seconds "$t0") s"
fi
step "ok: $("$build/csrc/test/bt_torch_test_c_api")"
