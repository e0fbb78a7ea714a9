#!/usr/bin/env bash
# Benchmark 1 — cost and quality on the fake VLLM: one greedy call vs fixed self-consistency
# (N = 10) vs SV-UAMC, on the same synthetic set, and SV-UAMC with the built-in face expert off
# (the synthetic images are not faces: the expert must abstain on them and change nothing).
# Prints one JSON line per mode and a table.
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
  local label=$1 mode=$2; shift 2
  rm -f "$WORK/port"
  # A fresh fake per mode, same seed: every mode meets the same simulated model.
  "$BUILD/tools/fake_vllm/seke-fake-vllm" serve --truth "$WORK/data/truth.jsonl" --port 0 \
    --port-file "$WORK/port" --seed "$SEED" >"$WORK/fake-$label.log" 2>&1 &
  local fake=$!
  for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
  OPENAI_BASE_URL="http://127.0.0.1:$(cat "$WORK/port")/v1" OPENAI_API_KEY=bench SEKE_MODEL=fake \
    "$BUILD/plugin/seke" label --input "$WORK/data/manifest.jsonl" --db "$WORK/$label.db" \
    --face-detection off --jobs 32 --sampling "$mode" "$@" >"$WORK/$label.summary" 2>"$WORK/$label.log"
  kill "$fake"; wait "$fake" 2>/dev/null || true
  "$BUILD/plugin/seke" export --db "$WORK/$label.db" --format feid-jsonl --out "$WORK/$label.jsonl" >/dev/null
  "$BUILD/bench/seke-bench-score" --truth "$WORK/data/truth.jsonl" --pred "$WORK/$label.jsonl" --label "$label"
}

{
  run_mode greedy greedy
  run_mode fixed fixed --fixed-samples 10
  run_mode uamc uamc
  run_mode uamc-expert-off uamc --expert off
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
abstained = {}
for label in [r['label'] for r in rows]:
    faces = [json.loads(l) for l in open(sys.argv[1].replace('results.jsonl', label + '.jsonl'))]
    read = [f['expert'] for f in faces if 'expert' in f]
    abstained[label] = (sum(1 for e in read if e.get('abstained')), len(read), len(faces))
print()
for label, (a, read, total) in abstained.items():
    print(f"{label}: the expert read {read} of {total} faces and abstained on {a}")
by = {r['label']: r for r in rows}
if 'fixed' in by and 'uamc' in by:
    f, u = by['fixed'], by['uamc']
    print()
    print(f"SV-UAMC vs fixed N=10: accuracy {100*(u['expression_accuracy']-f['expression_accuracy']):+.2f} points, "
          f"samples {100*u['samples_per_item']/f['samples_per_item']:.1f}% of fixed")
PY
