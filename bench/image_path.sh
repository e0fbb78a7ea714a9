#!/usr/bin/env bash
# Benchmark 3 — image path on one core, on the real face photos of @vladmandic/face-api's demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SEKE_BUILD_DIR:-build}
bash scripts/fetch-test-assets.sh
taskset -c 0 "$BUILD/bench/seke-bench-image" --runs "${1:-20}" "$BUILD"/test-assets/face-api/demo/sample*.jpg
