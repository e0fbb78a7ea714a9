#!/usr/bin/env bash
# Benchmark 2 — throughput: ITEMS items against the fake VLLM with LATENCY ms per request and
# JOBS requests in flight. Prints wall time vs the ideal (requests x latency / jobs), seke's own
# CPU per item, and seke's peak RSS.
# Usage: bash bench/throughput.sh [ITEMS=2000] [LATENCY_MS=200] [JOBS=64]
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS=${1:-2000}
LATENCY=${2:-200}
JOBS=${3:-64}
BUILD=${SEKE_BUILD_DIR:-build}
WORK=$(mktemp -d /tmp/seke-bench-tp.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BUILD/tools/fake_vllm/seke-fake-vllm" make-dataset --out "$WORK/data" --count "$ITEMS" --seed 5 >/dev/null
"$BUILD/tools/fake_vllm/seke-fake-vllm" serve --truth "$WORK/data/truth.jsonl" --port 0 --threads 2 \
  --port-file "$WORK/port" --latency-ms "$LATENCY" >"$WORK/fake.log" 2>&1 &
for _ in $(seq 1 100); do [ -s "$WORK/port" ] && break; sleep 0.05; done

OPENAI_BASE_URL="http://127.0.0.1:$(cat "$WORK/port")/v1" OPENAI_API_KEY=bench SEKE_MODEL=fake \
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" \
  "$BUILD/plugin/seke" label --input "$WORK/data/manifest.jsonl" --db "$WORK/tp.db" \
  --face-detection off --jobs "$JOBS" >"$WORK/summary.json" 2>"$WORK/label.log"

python3 - "$WORK/summary.json" "$WORK/time" "$ITEMS" "$LATENCY" "$JOBS" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
wall, user, system, rss_kb = open(sys.argv[2]).read().split()
items, latency, jobs = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
requests = summary["http_requests"]
ideal = requests * latency / 1000 / jobs
cpu_ms = (float(user) + float(system)) * 1000 / items
print(json.dumps({"items": items, "labeled": summary["labeled_now"], "failed": summary["failed"],
                  "http_requests": requests, "wall_s": float(wall), "ideal_s": round(ideal, 2),
                  "wall_over_ideal": round(float(wall) / ideal, 3) if ideal else None,
                  "cpu_ms_per_item": round(cpu_ms, 2), "peak_rss_mb": round(int(rss_kb) / 1024, 1)}))
PY
