#!/usr/bin/env bash
# Benchmark — seke serve's HTTP layer against a bare asynchronous Beast server on the same cores
# in the same run (bench/bare_beast.cpp): GET /health on both, and a one-task POST /predict that
# seke answers from its store, with wrk -t2 -c64, ROUNDS rounds interleaved. seke runs with its
# request log on (info, to a file), as in production. Prints each figure and the ratios to the
# bare server's /health of the same round.
#   bash bench/http.sh [seconds-per-run] [rounds] [connections]   (needs: apt-get install wrk)
#   HOLD=SECONDS keeps seke running that long after the rounds (to attach perf to it).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SEKE_BUILD_DIR:-build}
DURATION=${1:-10}
ROUNDS=${2:-2}
CONNECTIONS=${3:-64}
THREADS=${THREADS:-2}
WORK=$(mktemp -d /tmp/seke-bench-http.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BUILD/tools/fake_vllm/seke-fake-vllm" make-dataset --out "$WORK/data" --count 1 --seed 3 --size 96 >/dev/null
"$BUILD/tools/fake_vllm/seke-fake-vllm" serve --truth "$WORK/data/truth.jsonl" --port 0 --port-file "$WORK/fport" \
  >/dev/null 2>&1 &
for _ in $(seq 1 100); do [ -s "$WORK/fport" ] && break; sleep 0.05; done
OPENAI_BASE_URL="http://127.0.0.1:$(cat "$WORK/fport")/v1" LOCAL_FILES_DOCUMENT_ROOT="$WORK/data" \
  SEKE_LOG_LEVEL=info "$BUILD/plugin/seke" serve --port 9291 --db "$WORK/seke.db" --face-detection off \
  --expert off --threads "$THREADS" 2>"$WORK/serve.log" &
SEKE_PID=$!
"$BUILD/bench/seke-bench-bare-beast" 9292 "$THREADS" &
for _ in $(seq 1 100); do curl -sf localhost:9291/health >/dev/null && curl -sf localhost:9292/ >/dev/null && break; sleep 0.05; done

python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
truth = [json.loads(line) for line in open(f"{work}/data/truth.jsonl")]
config = open("config/label_studio/faces.xml").read()
task = {"id": 1, "data": {"image": "/data/local-files/?d=" + truth[0]["image"]}}
json.dump({"tasks": [task], "label_config": config, "project": "1"}, open(f"{work}/predict1.json", "w"))
PY
# The first call labels the task; every later one is answered from the store.
curl -s -o /dev/null -XPOST localhost:9291/predict --data-binary @"$WORK/predict1.json"
stored=$(curl -s -XPOST localhost:9291/predict --data-binary @"$WORK/predict1.json" | python3 -c \
  'import json,sys; print(isinstance(json.load(sys.stdin)["results"][0], dict))')
[ "$stored" = True ] || { echo "the task was not labeled; see $WORK/serve.log" >&2; exit 1; }
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$WORK/predict1.json"); wrk.body = f:read("*a"); f:close()
LUA

run_wrk() {  # url [script] → "rps p99"
  local out
  if [ $# -eq 2 ]; then out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$2" "$1")
  else out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$1"); fi
  echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "$out" | awk '$1 == "99%" {print $2}')"
}
for round in $(seq 1 "$ROUNDS"); do
  read -r bare bare_p99 < <(run_wrk http://127.0.0.1:9292/health)
  read -r health health_p99 < <(run_wrk http://127.0.0.1:9291/health)
  read -r predict predict_p99 < <(run_wrk http://127.0.0.1:9291/predict "$WORK/post.lua")
  python3 - "$round" "$CONNECTIONS" "$bare" "$bare_p99" "$health" "$health_p99" "$predict" "$predict_p99" <<'PY'
import json, sys
r, c, bare, bp, health, hp, predict, pp = sys.argv[1:]
bare, health, predict = float(bare), float(health), float(predict)
print(json.dumps({"round": int(r), "connections": int(c),
                  "bare_beast_health": {"rps": bare, "p99": bp},
                  "seke_health": {"rps": health, "p99": hp, "ratio": round(health / bare, 3)},
                  "seke_predict_stored": {"rps": predict, "p99": pp, "ratio": round(predict / bare, 3)}}))
PY
done
[ -n "${HOLD:-}" ] && { echo "holding: seke pid $SEKE_PID, post.lua in $WORK"; sleep "$HOLD"; }
lines=$(grep -c '"msg":"request"' "$WORK/serve.log" || true)
echo "{\"request_log_lines\": $lines, \"seke_peak_rss_mb\": $(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$SEKE_PID/status)}"
