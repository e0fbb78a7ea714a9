#!/usr/bin/env bash
# Benchmark 1 — cost and quality on the fake VLLM: one greedy call vs fixed self-consistency
# (N = 10) vs SV-UAMC, on the same synthetic set. Prints one JSON line per mode and a table.
# Usage: bash bench/cost_quality.sh [ITEMS=600] [SEED=11]
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS=${1:-600}
SEED=${2:-11}
BUILD=${SEKE_BUILD_DIR:-build}
WORK=$(mktemp -d /tmp/seke-bench-cq.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BUILD/tools/fake_vllm/seke-fake-vllm" make-dataset --out "$WORK/data" --count "$ITEMS" --seed "$SEED" >/dev/null

run_mode() {
  local mode=$1; shift
  rm -f "$WORK/port"
  # A fresh fake per mode, same seed: every mode meets the same simulated model.
  "$BUILD/tools/fake_vllm/seke-fake-vllm" serve --truth "$WORK/data/truth.jsonl" --port 0 \
    --port-file "$WORK/port" --seed "$SEED" >"$WORK/fake-$mode.log" 2>&1 &
  local fake=$!
  for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
  OPENAI_BASE_URL="http://127.0.0.1:$(cat "$WORK/port")/v1" OPENAI_API_KEY=bench SEKE_MODEL=fake \
    "$BUILD/plugin/seke" label --input "$WORK/data/manifest.jsonl" --db "$WORK/$mode.db" \
    --face-detection off --jobs 32 --sampling "$mode" "$@" >"$WORK/$mode.summary" 2>"$WORK/$mode.log"
  kill "$fake"; wait "$fake" 2>/dev/null || true
  "$BUILD/plugin/seke" export --db "$WORK/$mode.db" --format feid-jsonl --out "$WORK/$mode.jsonl" >/dev/null
  "$BUILD/bench/seke-bench-score" --truth "$WORK/data/truth.jsonl" --pred "$WORK/$mode.jsonl" --label "$mode"
}

{
  run_mode greedy
  run_mode fixed --fixed-samples 10
  run_mode uamc
} | tee "$WORK/results.jsonl"

python3 - "$WORK/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print()
print("| mode | items | expr acc | AU mean F1 | V CCC | A CCC | samples/item | requests/item | AUROC(overall→error) |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['label']} | {r['items']} | {r['expression_accuracy']:.4f} | {r['au_mean_f1']:.4f} | "
          f"{r['valence_ccc']:.4f} | {r['arousal_ccc']:.4f} | {r['samples_per_item']:.2f} | "
          f"{r['requests_per_item']:.2f} | {r['auroc_overall_for_expression_error']:.4f} |")
by = {r['label']: r for r in rows}
if 'fixed' in by and 'uamc' in by:
    f, u = by['fixed'], by['uamc']
    print()
    print(f"SV-UAMC vs fixed N=10: accuracy {100*(u['expression_accuracy']-f['expression_accuracy']):+.2f} points, "
          f"samples {100*u['samples_per_item']/f['samples_per_item']:.1f}% of fixed")
PY
