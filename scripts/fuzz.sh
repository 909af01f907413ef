#!/usr/bin/env bash
# Runs every Go fuzz target of the module for a bounded number of executions.
# Usage: scripts/fuzz.sh [fuzztime]   (default 4000x)
#
# The default budget is a count, not a duration: with a duration, Go's fuzz
# coordinator can report a bare "context deadline exceeded" failure when the
# deadline fires while a worker is mid-execution on a loaded machine
# (golang/go#75804, fixed in Go 1.27), which is no finding at all. A count has
# no deadline to race; a slow machine only takes longer.
set -euo pipefail
fuzztime=${1:-4000x}
go=${GO:-go}
for pkg in $($go list ./...); do
  for target in $($go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
    echo "fuzz $pkg $target ($fuzztime)"
    $go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
