#!/usr/bin/env bash
# Benchmark 9 — the built-in face expert on one core (CPU 0): thread CPU time per face, per net and
# for the whole FaceExpert::read(), on the real faces of @vladmandic/face-api's demo photos.
# face-api's nets are measured on seke's kernels and in cv::dnn in the same run.
# Then `seke label --provider expert` on the demo photos: images/s and faces/s of the command.
# Usage: bash bench/expert.sh [RUNS=200] [COPIES=10]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SEKE_BUILD_DIR:-build}
bash scripts/fetch-test-assets.sh
bash scripts/fetch-models.sh
taskset -c 0 "$BUILD/bench/seke-bench-expert" --runs "${1:-200}" tests/fixtures/expert "$BUILD"/test-assets/face-api/demo

# `seke label` with the expert as the provider on the demo photos, each copied COPIES times (so
# the response cache and resume have nothing to skip): images/s and faces/s of the whole command.
COPIES=${2:-10}
WORK=$(mktemp -d /tmp/seke-bench-expert.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/photos"
for i in $(seq 1 "$COPIES"); do
  for photo in "$BUILD"/test-assets/face-api/demo/sample*.jpg; do cp "$photo" "$WORK/photos/c${i}_$(basename "$photo")"; done
done
"$BUILD/plugin/seke" label --provider expert --input "$WORK/photos" --db "$WORK/seke.db" >"$WORK/summary" 2>"$WORK/log"
python3 - "$WORK/summary" <<'PY'
import json, sys
s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(json.dumps({"bench": "seke label --provider expert", "images": s["items"], "faces": s["faces"],
                  "seconds": round(s["seconds"], 3), "images_per_s": round(s["items"] / s["seconds"], 2),
                  "faces_per_s": round(s["faces"] / s["seconds"], 2)}))
PY
