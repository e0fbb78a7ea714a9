#!/usr/bin/env bash
# Shared label jobs — 1, 2 and 4 `seke label` workers on one PostgreSQL database against the fake
# VLLM with LATENCY ms per request, JOBS requests in flight per worker. The model-bound case: the
# built-in expert, CPU work on every face, is off (--expert off).
# For each worker count: wall time against the ideal (one worker's requests x latency / (jobs x
# workers)), requests paid against one worker's (target <= 1.02), and the job's items all done.
# Then faces committed per second by the store itself on each engine (seke-bench-store-commit).
# A throwaway PostgreSQL server (scripts/postgres-test-server.sh) is started and stopped.
# Usage: bash bench/shared_label.sh [ITEMS=400] [LATENCY_MS=200] [JOBS=8]
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS=${1:-400}
LATENCY=${2:-200}
JOBS=${3:-8}
BUILD=${SEKE_BUILD_DIR:-build}
WORK=$(mktemp -d /tmp/seke-bench-shared.XXXXXX)
source bench/fake_vllm.sh
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  bash scripts/postgres-test-server.sh stop "$WORK/pg" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

SERVER=$(bash scripts/postgres-test-server.sh start "$WORK/pg")
database_uri() { echo "${SERVER%/postgres}/$1"; }
psql_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/psql

"$BUILD/tools/fake_vllm/seke-fake-vllm" make-dataset --out "$WORK/data" --count "$ITEMS" --seed 5 >/dev/null

for workers in 1 2 4; do
  "$psql_bin" "$SERVER" -q -c "CREATE DATABASE bench_w$workers" >/dev/null
  start_fake_vllm "$WORK" "fake-$workers" --truth "$WORK/data/truth.jsonl" --threads 16 --latency-ms "$LATENCY"
  fake=$FAKE_VLLM_PID
  start=$(date +%s.%N)
  pids=()
  for w in $(seq 1 "$workers"); do
    "$BUILD/plugin/seke" label --input "$WORK/data/manifest.jsonl" --db "$(database_uri "bench_w$workers")" \
      --face-detection off --expert off --jobs "$JOBS" >"$WORK/summary-$workers-$w.json" 2>"$WORK/label-$workers-$w.log" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done
  end=$(date +%s.%N)
  kill "$fake" 2>/dev/null || true
  wait "$fake" 2>/dev/null || true
  echo "$workers $start $end" >>"$WORK/runs"
done

python3 - "$WORK" "$LATENCY" "$JOBS" <<'PY'
import glob, json, os, sys
work, latency, jobs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
single = None
for line in open(os.path.join(work, "runs")):
    workers, start, end = line.split()
    workers = int(workers)
    summaries = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(work, f"summary-{workers}-*.json")))]
    requests = sum(s["http_requests"] for s in summaries)
    single = single or requests
    wall = float(end) - float(start)
    ideal = single * latency / 1000 / (jobs * workers)
    print(json.dumps({"workers": workers, "http_requests": requests,
                      "requests_over_one_worker": round(requests / single, 4),
                      "labeled_by_each": [s["labeled_now"] for s in summaries],
                      "job_finished": summaries[0]["job"]["finished"], "job_items": summaries[0]["job"]["items"],
                      "wall_s": round(wall, 2), "ideal_s": round(ideal, 2),
                      "wall_over_ideal": round(wall / ideal, 3)}))
PY

"$psql_bin" "$SERVER" -q -c "CREATE DATABASE bench_commit" >/dev/null
"$BUILD/bench/seke-bench-store-commit" "$WORK/commit.db" 5000
"$BUILD/bench/seke-bench-store-commit" "$(database_uri bench_commit)" 5000
