#!/usr/bin/env bash
# Benchmark 3 — image path on one core, on the real face photos of @vladmandic/face-api's demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SEKE_BUILD_DIR:-build}
bash scripts/fetch-test-assets.sh
bash scripts/fetch-models.sh
RUNS=${1:-20}
shift || true
# Extra arguments go to the benchmark, e.g. --detector cascade [--cascade FILE], --detect-size 320
taskset -c 0 "$BUILD/bench/seke-bench-image" --runs "$RUNS" "$@" "$BUILD"/test-assets/face-api/demo/sample*.jpg
