#!/usr/bin/env bash
# How close `seke label --plan` comes to the run it plans, on the fake VLLM. Two cases:
#   cold: an empty store, so the plan walks the prompts through the sampling policy;
#   warm: a store holding an earlier run of the same model on other items (the plan reads its
#         faces' cost per face).
# Each case plans the second half of a synthetic set, then labels it, and prints plan vs actual
# for requests, samples, prompt tokens, completion tokens and money, with the relative error.
# Usage: bash bench/plan_accuracy.sh [ITEMS=400] [SEED=11]
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS=${1:-400}
SEED=${2:-11}
BUILD=${SEKE_BUILD_DIR:-build}
PRICE=${SEKE_BENCH_PRICE:-2.5,1.25,10}
WORK=$(mktemp -d /tmp/seke-bench-plan.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
source bench/fake_vllm.sh

"$BUILD/tools/fake_vllm/seke-fake-vllm" make-dataset --out "$WORK/data" --count "$ITEMS" --seed "$SEED" >/dev/null
half=$((ITEMS / 2))
head -n "$half" "$WORK/data/manifest.jsonl" >"$WORK/data/history.jsonl"
tail -n +"$((half + 1))" "$WORK/data/manifest.jsonl" >"$WORK/data/planned.jsonl"

seke_label() {
  "$BUILD/plugin/seke" label --face-detection off --jobs 32 --price "$PRICE" "$@"
}

# A fresh fake per case, same seed: both cases meet the same simulated model.
for case in cold warm; do
  start_fake_vllm "$WORK" "fake-$case" --truth "$WORK/data/truth.jsonl" --seed "$SEED"
  if [ "$case" = warm ]; then
    seke_label --input "$WORK/data/history.jsonl" --db "$WORK/$case.db" >"$WORK/$case-history.json" 2>"$WORK/$case-history.log"
  fi
  seke_label --plan --input "$WORK/data/planned.jsonl" --db "$WORK/$case.db" >"$WORK/$case-plan.json" 2>"$WORK/$case-plan.log"
  seke_label --input "$WORK/data/planned.jsonl" --db "$WORK/$case.db" >"$WORK/$case-run.json" 2>"$WORK/$case-run.log"
  kill "$FAKE_VLLM_PID"; wait "$FAKE_VLLM_PID" 2>/dev/null || true
done

python3 - "$WORK" "$ITEMS" "$SEED" <<'PY'
import json, sys
work, items, seed = sys.argv[1], sys.argv[2], sys.argv[3]
rows = []
for case in ("cold", "warm"):
    plan = json.load(open(f"{work}/{case}-plan.json"))
    run = json.load(open(f"{work}/{case}-run.json"))
    e = plan["expected"]
    actual = {
        "requests": run["model_requests"] + run["cached_requests"],
        "samples": run["samples"],
        "prompt_tokens": run["prompt_tokens"],
        "completion_tokens": run["completion_tokens"],
        "usd": run["spent"]["usd"],
    }
    line = {"case": case, "items": items, "seed": seed, "basis": plan["basis"], "faces_planned": plan["faces"],
            "faces_labeled": run["faces"], "history_faces": plan["history_faces"]}
    for key, value in actual.items():
        planned = e[key]
        error = (planned - value) / value if value else None
        line[key] = {"plan": planned, "actual": value, "low": plan["low"][key], "high": plan["high"][key],
                     "error": round(error, 4) if error is not None else None}
    rows.append(line)
    print(json.dumps(line))
print()
print("| case | basis | figure | plan | actual | error | plan range |")
print("|---|---|---|---|---|---|---|")
for r in rows:
    for key in ("requests", "samples", "prompt_tokens", "completion_tokens", "usd"):
        f = r[key]
        fmt = (lambda v: f"{v:.4f}") if key == "usd" else (lambda v: f"{v:.0f}")
        print(f"| {r['case']} | {r['basis']} | {key} | {fmt(f['plan'])} | {fmt(f['actual'])} | "
              f"{100 * f['error']:+.1f} % | {fmt(f['low'])} – {fmt(f['high'])} |")
PY
