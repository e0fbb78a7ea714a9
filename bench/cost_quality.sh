#!/usr/bin/env bash
# Benchmark 1 — cost and quality on the fake VLLM, on every model profile the fake simulates
# (tools/fake_vllm/profile.hpp): one greedy call vs fixed self-consistency (N = 10) vs SV-UAMC,
# on the same synthetic set and seed, and (default profile only) SV-UAMC with the built-in face
# expert off (the synthetic images are not faces: the expert must abstain and change nothing).
# Prints one JSON line per run, then one table, the AUROC of each level's uncertainty under
# SV-UAMC, and SV-UAMC against fixed N = 10 with the targets per profile.
# Usage: bash bench/cost_quality.sh [ITEMS=600] [SEED=11] [PROFILES="default overconfident ..."]
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS=${1:-600}
SEED=${2:-11}
PROFILES=${3:-"default overconfident temperature-insensitive confusions calibrated noisy"}
BUILD=${SEKE_BUILD_DIR:-build}
WORK=$(mktemp -d /tmp/seke-bench-cq.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BUILD/tools/fake_vllm/seke-fake-vllm" make-dataset --out "$WORK/data" --count "$ITEMS" --seed "$SEED" >/dev/null

run_mode() {
  local profile=$1 mode_label=$2 mode=$3; shift 3
  local label="$profile/$mode_label" run="$profile-$mode_label"
  rm -f "$WORK/port"
  # A fresh fake per run, same seed: every mode meets the same simulated model.
  "$BUILD/tools/fake_vllm/seke-fake-vllm" serve --truth "$WORK/data/truth.jsonl" --port 0 \
    --port-file "$WORK/port" --seed "$SEED" --profile "$profile" >"$WORK/fake-$run.log" 2>&1 &
  local fake=$!
  for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done
  OPENAI_BASE_URL="http://127.0.0.1:$(cat "$WORK/port")/v1" OPENAI_API_KEY=bench SEKE_MODEL=fake \
    "$BUILD/plugin/seke" label --input "$WORK/data/manifest.jsonl" --db "$WORK/$run.db" \
    --face-detection off --jobs 32 --sampling "$mode" "$@" >"$WORK/$run.summary" 2>"$WORK/$run.log"
  kill "$fake"; wait "$fake" 2>/dev/null || true
  "$BUILD/plugin/seke" export --db "$WORK/$run.db" --format feid-jsonl --out "$WORK/$run.jsonl" >/dev/null
  "$BUILD/bench/seke-bench-score" --truth "$WORK/data/truth.jsonl" --pred "$WORK/$run.jsonl" --label "$label"
}

{
  for profile in $PROFILES; do
    run_mode "$profile" greedy greedy
    run_mode "$profile" fixed fixed --fixed-samples 10
    run_mode "$profile" uamc uamc
    if [ "$profile" = default ]; then run_mode "$profile" uamc-expert-off uamc --expert off; fi
  done
} | tee "$WORK/results.jsonl"

python3 - "$WORK" <<'PY'
import json, os, sys
work = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(work, "results.jsonl"))]
print()
print("| profile | mode | items | expr acc | AU mean F1 | V CCC | A CCC | samples/item | requests/item "
      "| AUROC(overall→error) | errors in top 20 % |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    profile, mode = r['label'].split('/')
    print(f"| {profile} | {mode} | {r['items']} | {r['expression_accuracy']:.4f} | {r['au_mean_f1']:.4f} | "
          f"{r['valence_ccc']:.4f} | {r['arousal_ccc']:.4f} | {r['samples_per_item']:.2f} | "
          f"{r['requests_per_item']:.2f} | {r['auroc_overall_for_expression_error']:.4f} | "
          f"{r['expression_errors_in_top20_uncertain']:.3f} |")
print()
for r in rows:
    if not r['label'].startswith('default/'):
        continue
    faces = [json.loads(l) for l in open(os.path.join(work, r['label'].replace('/', '-') + '.jsonl'))]
    read = [f['expert'] for f in faces if 'expert' in f]
    print(f"{r['label']}: the expert read {len(read)} of {len(faces)} faces and abstained on "
          f"{sum(1 for e in read if e.get('abstained'))}")
print()
print("Which part of `overall` ranks the errors: AUROC of each level's uncertainty for an expression error (SV-UAMC)")
print()
print("| profile | overall | expression | consistency | VA | AU |")
print("|---|---|---|---|---|---|")
for r in rows:
    if not r['label'].endswith('/uamc'):
        continue
    a = r['auroc_by_level_for_expression_error']
    print(f"| {r['label'].split('/')[0]} | {r['auroc_overall_for_expression_error']:.3f} | {a['expression']:.3f} | "
          f"{a['consistency']:.3f} | {a['va']:.3f} | {a['au']:.3f} |")
by = {r['label']: r for r in rows}
print()
print("| profile | accuracy vs fixed (≥ -0.5 pt) | samples of fixed (≤ 35 %) | AUROC (≥ 0.94) | errors in top 20 % (≥ 85 %) |")
print("|---|---|---|---|---|")
for profile in dict.fromkeys(l.split('/')[0] for l in by):
    f, u = by.get(profile + '/fixed'), by.get(profile + '/uamc')
    if not f or not u:
        continue
    delta = 100 * (u['expression_accuracy'] - f['expression_accuracy'])
    share = 100 * u['samples_per_item'] / f['samples_per_item'] if f['samples_per_item'] else 0
    auroc, caught = u['auroc_overall_for_expression_error'], u['expression_errors_in_top20_uncertain']
    mark = lambda ok: "" if ok else " ✗"
    print(f"| {profile} | {delta:+.2f}{mark(delta >= -0.5)} | {share:.1f} %{mark(share <= 35)} | "
          f"{auroc:.3f}{mark(auroc >= 0.94)} | {100 * caught:.1f} %{mark(caught >= 0.85)} |")
PY
