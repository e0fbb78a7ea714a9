#!/usr/bin/env bash
# The active-learning loop on the fake VLLM: label ITEMS synthetic faces, review half of them
# (simulated from ground truth), `seke fit`, then measure on the unreviewed half which share of
# the faces an annotator would change falls in the top 20 % of the queue, before and after
# calibration. Usage: bash bench/review_loop.sh [ITEMS=1000] [SEED=5]
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS=${1:-1000}
SEED=${2:-5}
BUILD=${SEKE_BUILD_DIR:-build}
WORK=$(mktemp -d /tmp/seke-bench-loop.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT

"$BUILD/tools/fake_vllm/seke-fake-vllm" make-dataset --out "$WORK/data" --count "$ITEMS" --seed "$SEED" >/dev/null
"$BUILD/tools/fake_vllm/seke-fake-vllm" serve --truth "$WORK/data/truth.jsonl" --port 0 \
  --port-file "$WORK/port" --seed "$SEED" >"$WORK/fake.log" 2>&1 &
for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
export OPENAI_BASE_URL="http://127.0.0.1:$(cat "$WORK/port")/v1" OPENAI_API_KEY=bench SEKE_MODEL=fake
"$BUILD/plugin/seke" label --input "$WORK/data/manifest.jsonl" --db "$WORK/loop.db" \
  --face-detection off --jobs 32 >"$WORK/label.json" 2>"$WORK/label.log"
echo "reviews:  $("$BUILD/bench/seke-bench-review" simulate --db "$WORK/loop.db" --truth "$WORK/data/truth.jsonl" --fraction 0.5)"
echo "before:   $("$BUILD/bench/seke-bench-review" caught --db "$WORK/loop.db" --truth "$WORK/data/truth.jsonl" --budget 0.2)"
for method in isotonic platt; do
  "$BUILD/plugin/seke" fit --db "$WORK/loop.db" --fit-method "$method" > "$WORK/fit-$method.json"
  echo "fit ($method): $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({k: d[k] for k in ("changed","model_version","reviews","calibrated_levels","exemplars")}))' "$WORK/fit-$method.json")"
  echo "after ($method): $("$BUILD/bench/seke-bench-review" caught --db "$WORK/loop.db" --truth "$WORK/data/truth.jsonl" --budget 0.2)"
done
