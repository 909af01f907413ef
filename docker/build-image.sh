#!/usr/bin/env bash
# build-image.sh builds the CPU image of bittensor:
#
#   docker/build-image.sh [IMAGE]      (default bittensor:cpu)
#
# It makes the base images docker/Dockerfile starts from when they are missing
# (docker/base-image.sh: no registry is needed), copies the Go modules the build
# needs from this machine's module cache into docker/goproxy (so the build stage
# needs no access to proxy.golang.org; without a local Go it downloads them),
# then runs `docker build -f docker/Dockerfile -t IMAGE .`. Extra arguments for
# docker build can be given in DOCKER_BUILD_FLAGS (e.g. --network host when
# build containers cannot reach Debian's mirror otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-bittensor:cpu}

docker/base-image.sh bookworm debian:bookworm-slim
docker/base-image.sh bookworm golang:1.26-bookworm --go

# Keep docker/goproxy's README, replace the rest with exactly the modules of
# go.mod, so that the layer that copies it stays cached while go.sum does not
# change.
find docker/goproxy -mindepth 1 -maxdepth 1 ! -name README -exec rm -rf {} +
if command -v go >/dev/null; then
	mods=$(mktemp -d /tmp/bittensor-goproxy.XXXXXX)
	trap 'rm -rf "$mods"' EXIT
	GOFLAGS=-modcacherw GOMODCACHE="$mods" \
		GOPROXY="file://$(go env GOMODCACHE)/cache/download,$(go env GOPROXY)" \
		go mod download
	cp -a "$mods/cache/download/." docker/goproxy/
	rm -rf docker/goproxy/sumdb
fi

# shellcheck disable=SC2086 # DOCKER_BUILD_FLAGS is a list of words
docker build --force-rm ${DOCKER_BUILD_FLAGS:-} -f docker/Dockerfile -t "$image" .
