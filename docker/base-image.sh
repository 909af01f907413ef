#!/usr/bin/env bash
# base-image.sh makes a Docker base image locally, for machines that reach
# Debian's package mirror but no container registry.
#
#   docker/base-image.sh SUITE IMAGE [--go]
#
# debootstraps a minimal Debian SUITE (bookworm, trixie, ...) and imports it as
# IMAGE (e.g. debian:bookworm-slim). With --go it also copies this machine's Go
# toolchain (`go env GOROOT`) to /usr/local/go, on PATH, as the official golang
# images have it (e.g. golang:1.26-bookworm). An IMAGE that already exists is
# left alone. MIRROR overrides the package mirror (default deb.debian.org).
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ] || { [ $# -eq 3 ] && [ "$3" != --go ]; }; then
	echo "usage: $0 SUITE IMAGE [--go]" >&2
	exit 2
fi
suite=$1 image=$2 with_go=${3:-}
mirror=${MIRROR:-http://deb.debian.org/debian}

if docker image inspect "$image" >/dev/null 2>&1; then
	echo "$image: present"
	exit 0
fi

sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
if ! command -v debootstrap >/dev/null; then
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends debootstrap
fi

# Two builders of the same suite wait for each other instead of racing.
lock="/tmp/bittensor-base-$suite.lock"
exec 9>"$lock"
flock 9
if docker image inspect "$image" >/dev/null 2>&1; then
	echo "$image: present"
	exit 0
fi

root=$(mktemp -d "/tmp/bittensor-rootfs-$suite.XXXXXX")
trap '$sudo rm -rf "$root"' EXIT
echo "$image: debootstrap $suite from $mirror"
$sudo debootstrap --variant=minbase --include=ca-certificates "$suite" "$root" "$mirror" >/dev/null
# Keep the image slim: no apt lists or caches, no docs.
$sudo rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/usr/share/doc/* "$root"/usr/share/man/*

env=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
if [ "$with_go" = --go ]; then
	goroot=$(go env GOROOT)
	$sudo mkdir -p "$root/usr/local/go"
	$sudo cp -a "$goroot"/. "$root/usr/local/go/"
	env=(--change 'ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
		--change 'ENV GOPATH=/go' --change 'ENV GOTOOLCHAIN=local')
fi
$sudo tar -C "$root" -c . | docker import "${env[@]}" --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
echo "$image: imported"
