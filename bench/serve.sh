#!/usr/bin/env bash
# Benchmark — seke serve vs a reference stack of label-studio-ml-backend's shape (Flask under
# gunicorn, 2 workers x 8 threads), with wrk at 64 connections: GET /health and a one-task
# POST /predict served from memory (reference) or from seke's store; then one 1,000-task
# /predict served from the store; seke's peak RSS. Needs: apt-get install wrk gunicorn python3-flask
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SEKE_BUILD_DIR:-build}
DURATION=${DURATION:-10}
WORK=$(mktemp -d /tmp/seke-bench-serve.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BUILD/tools/fake_vllm/seke-fake-vllm" make-dataset --out "$WORK/data" --count 1000 --seed 3 --size 96 >/dev/null
"$BUILD/tools/fake_vllm/seke-fake-vllm" serve --truth "$WORK/data/truth.jsonl" --port 0 --port-file "$WORK/fport" >/dev/null 2>&1 &
for _ in $(seq 1 100); do [ -s "$WORK/fport" ] && break; sleep 0.05; done
OPENAI_BASE_URL="http://127.0.0.1:$(cat "$WORK/fport")/v1" LOCAL_FILES_DOCUMENT_ROOT="$WORK/data" SEKE_LOG_LEVEL=warn \
  "$BUILD/plugin/seke" serve --port 9191 --db "$WORK/seke.db" --face-detection off --jobs 64 --threads 2 \
  --predict-deadline-ms 600000 2>"$WORK/serve.log" &
SEKE_PID=$!
for _ in $(seq 1 100); do curl -sf localhost:9191/health >/dev/null && break; sleep 0.05; done

CONFIG=$(python3 -c 'import json;print(json.dumps(open("config/label_studio/faces.xml").read()))')
python3 - "$WORK" "$CONFIG" <<'PY'
import json, sys
work, config = sys.argv[1], json.loads(sys.argv[2])
truth = [json.loads(line) for line in open(f"{work}/data/truth.jsonl")]
tasks = [{"id": i + 1, "data": {"image": "/data/local-files/?d=" + t["image"]}} for i, t in enumerate(truth)]
json.dump({"tasks": tasks, "label_config": config, "project": "1"}, open(f"{work}/predict1000.json", "w"))
json.dump({"tasks": tasks[:1], "label_config": config, "project": "1"}, open(f"{work}/predict1.json", "w"))
PY
# Fill the store: the first 1,000-task call labels them all against the fake VLLM.
curl -s -o /dev/null -XPOST localhost:9191/predict --data-binary @"$WORK/predict1000.json"

cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$WORK/predict1.json"); wrk.body = f:read("*a"); f:close()
LUA
PREDICTION=$(curl -s -XPOST localhost:9191/predict --data-binary @"$WORK/predict1.json" | python3 -c 'import json,sys;print(json.dumps(json.load(sys.stdin)["results"][0]))')
REFERENCE_PREDICTION="$PREDICTION" gunicorn --chdir bench -w 2 --threads 8 -k gthread -b 127.0.0.1:9192 \
  reference_backend:app >"$WORK/gunicorn.log" 2>&1 &
for _ in $(seq 1 100); do curl -sf localhost:9192/health >/dev/null && break; sleep 0.1; done

run_wrk() {  # name url [script]
  local out
  if [ $# -eq 3 ]; then out=$(wrk -t2 -c64 -d"${DURATION}s" --latency -s "$3" "$2"); else out=$(wrk -t2 -c64 -d"${DURATION}s" --latency "$2"); fi
  local rps p99
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
  echo "{\"case\": \"$1\", \"requests_per_s\": $rps, \"p99\": \"$p99\"}"
}
run_wrk "seke /health" http://127.0.0.1:9191/health
run_wrk "reference /health" http://127.0.0.1:9192/health
run_wrk "seke /predict (1 task, from the store)" http://127.0.0.1:9191/predict "$WORK/post.lua"
run_wrk "reference /predict (1 task, from memory)" http://127.0.0.1:9192/predict "$WORK/post.lua"

start=$(date +%s.%N)
curl -s -o "$WORK/big.json" -XPOST localhost:9191/predict --data-binary @"$WORK/predict1000.json"
end=$(date +%s.%N)
python3 - "$WORK/big.json" "$start" "$end" <<'PY'
import json, sys
body = json.load(open(sys.argv[1]))
done = sum(1 for r in body["results"] if isinstance(r, dict))
print(json.dumps({"case": "seke /predict 1000 tasks from the store", "seconds": round(float(sys.argv[3]) - float(sys.argv[2]), 3),
                  "tasks": len(body["results"]), "predicted": done}))
PY
echo "{\"case\": \"seke peak RSS\", \"mb\": $(awk '/VmHWM/ {printf "%.1f", $2/1024}' /proc/$SEKE_PID/status)}"
