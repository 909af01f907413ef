#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a short time each.
# Usage: scripts/fuzz.sh [fuzztime]   (default 5s)
set -euo pipefail
fuzztime=${1:-5s}
go=${GO:-go}
for pkg in $($go list ./...); do
  for target in $($go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target ($fuzztime)"
    $go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
