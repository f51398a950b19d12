#!/usr/bin/env bash
# A long run of the reader fuzz harness (tests/fuzz_readers.cpp) over several seeds.
#   scripts/fuzz.sh [iterations per seed = 200000] [seeds = 4] [build dir = build]
# Exits non-zero at the first finding (an exception other than InputError, or a crash).
set -euo pipefail
iterations=${1:-200000}
seeds=${2:-4}
build=${3:-build}
cd "$(dirname "$0")/.."
[ -x "$build/bin/fuzz_readers" ] || { echo "fuzz.sh: build first (bash scripts/build.sh)"; exit 2; }
for seed in $(seq 1 "$seeds"); do
  "$build/bin/fuzz_readers" "$iterations" "$seed"
done
