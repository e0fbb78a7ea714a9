#!/usr/bin/env bash
# Benchmark 9 — the built-in face expert on one core (CPU 0): thread CPU time per face, per net and
# for the whole FaceExpert::read(), on the real faces of @vladmandic/face-api's demo photos.
# face-api's nets are measured on seke's kernels and in cv::dnn in the same run.
# Usage: bash bench/expert.sh [RUNS=200]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SEKE_BUILD_DIR:-build}
bash scripts/fetch-test-assets.sh
bash scripts/fetch-models.sh
taskset -c 0 "$BUILD/bench/seke-bench-expert" --runs "${1:-200}" tests/fixtures/expert "$BUILD"/test-assets/face-api/demo
