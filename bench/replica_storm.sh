#!/usr/bin/env bash
# Two `seke serve` replicas on one PostgreSQL database under a storm of review webhooks, as behind
# a load balancer that retries: TASKS tasks are predicted, then one review per task is sent to a
# replica picked at random, REDELIVER of them (a fraction) also to the other replica, at once or
# after a pause, CONCURRENCY requests at a time. Prints reviews sent, merged, duplicates (reviews
# merged more than once: must be 0), lost (reviews never merged: must be 0), webhook answers by
# status and webhooks per second. A throwaway PostgreSQL server (scripts/postgres-test-server.sh)
# and the fake VLLM are started and stopped.
# Usage: bash bench/replica_storm.sh [TASKS=400] [REDELIVER=0.5] [CONCURRENCY=32]
set -euo pipefail
cd "$(dirname "$0")/.."
TASKS=${1:-400}
REDELIVER=${2:-0.5}
CONCURRENCY=${3:-32}
BUILD=${SEKE_BUILD_DIR:-build}
WORK=$(mktemp -d /tmp/seke-bench-storm.XXXXXX)
source bench/fake_vllm.sh
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  bash scripts/postgres-test-server.sh stop "$WORK/pg" || true
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

SERVER=$(bash scripts/postgres-test-server.sh start "$WORK/pg")
DB="${SERVER%/postgres}/storm"
psql_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/psql
"$psql_bin" "$SERVER" -q -c "CREATE DATABASE storm" >/dev/null

"$BUILD/tools/fake_vllm/seke-fake-vllm" make-dataset --out "$WORK/data" --count "$TASKS" --seed 7 --size 96 >/dev/null
start_fake_vllm "$WORK" fake --truth "$WORK/data/truth.jsonl"

# A replica on a free port; prints its port once it listens.
start_replica() {
  local name=$1
  LOCAL_FILES_DOCUMENT_ROOT="$WORK/data" "$BUILD/plugin/seke" serve --port 0 --db "$DB" --face-detection off --expert off \
    --predict-deadline-ms 600000 2>"$WORK/$name.log" &
  for _ in $(seq 1 400); do
    local port
    port=$(grep -o '"msg":"listening".*"port":[0-9]*' "$WORK/$name.log" 2>/dev/null | grep -o '[0-9]*$' || true)
    if [ -n "$port" ]; then echo "$port"; return; fi
    sleep 0.05
  done
  echo "replica $name did not start:" >&2
  cat "$WORK/$name.log" >&2
  exit 1
}
A=$(start_replica a)
B=$(start_replica b)

python3 - "$WORK" "$A" "$B" "$TASKS" "$REDELIVER" "$CONCURRENCY" <<'PY'
import concurrent.futures, http.client, json, os, random, sys, threading, time
work, a, b, tasks, redeliver, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
config = open("config/label_studio/faces.xml").read()
truth = [json.loads(line) for line in open(os.path.join(work, "data", "truth.jsonl"))]
local = threading.local()

def post(port, path, body):
    # One keep-alive connection per thread and replica, as a load balancer keeps them.
    conns = local.__dict__.setdefault("conns", {})
    for attempt in (1, 2):
        conn = conns.get(port) or http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conns[port] = conn
        try:
            conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")
        except (http.client.HTTPException, ConnectionError):
            conn.close()
            conns.pop(port, None)
            if attempt == 2:
                raise

# Predictions first, 20 tasks a call, spread over both replicas.
task_list = [{"id": i + 1, "data": {"image": "/data/local-files/?d=" + t["image"]}} for i, t in enumerate(truth)]
predictions = {}
def predict(chunk, port):
    status, body = post(port, "/predict", {"tasks": chunk, "label_config": config, "project": "9.1"})
    assert status == 200, (status, body)
    for task, result in zip(chunk, body["results"]):
        predictions[task["id"]] = result["result"]
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    chunks = [task_list[i:i + 20] for i in range(0, len(task_list), 20)]
    list(pool.map(predict, chunks, [a if n % 2 == 0 else b for n in range(len(chunks))]))
reviewable = [task for task, result in predictions.items() if result]

# One review per task: Label Studio's ANNOTATION_CREATED with the prediction accepted as it is.
def event(task):
    return {"action": "ANNOTATION_CREATED",
            "annotation": {"id": task * 10, "result": predictions[task], "task": task, "completed_by": 7,
                           "was_cancelled": False, "updated_at": "2026-12-03T08:00:00Z"},
            "task": {"id": task}, "project": {"id": 9, "label_config": config}}

rng = random.Random(11)
sends = []  # (delay s, port, task)
for task in reviewable:
    first = rng.choice([a, b])
    sends.append((0.0, first, task))
    if rng.random() < redeliver:
        other = b if first == a else a
        # At once (the balancer gave up on a slow answer), or a while later (a retry).
        sends.append((0.0 if rng.random() < 0.5 else rng.uniform(0.05, 2.0), other, task))
rng.shuffle(sends)

statuses, answers = {}, []
lock = threading.Lock()
begin = time.monotonic()
def deliver(send):
    delay, port, task = send
    if delay: time.sleep(delay)
    status, body = post(port, "/webhook", event(task))
    with lock:
        statuses[status] = statuses.get(status, 0) + 1
        answers.append(body)
with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
    list(pool.map(deliver, sends))
wall = time.monotonic() - begin
json.dump({"sent": len(reviewable), "webhooks": len(sends), "redelivered": len(sends) - len(reviewable),
           "statuses": {str(k): v for k, v in sorted(statuses.items())},
           "answered_duplicate": sum(1 for x in answers if isinstance(x, dict) and x.get("result", {}).get("duplicate")),
           "wall_s": round(wall, 2), "webhooks_per_s": round(len(sends) / wall, 1)},
          open(os.path.join(work, "storm.json"), "w"))
PY

# What the store holds: one event per review, each merged once.
q() { "$psql_bin" "$DB" -At -c "$1"; }
python3 - "$WORK/storm.json" \
  "$(q "SELECT count(*) FROM events WHERE action='ANNOTATION_CREATED'")" \
  "$(q "SELECT count(*) FROM events WHERE action='ANNOTATION_CREATED' AND merges >= 1")" \
  "$(q "SELECT coalesce(sum(merges - 1), 0) FROM events WHERE action='ANNOTATION_CREATED' AND merges > 1")" \
  "$(q "SELECT count(*) FROM faces WHERE status <> 'auto'")" <<'PY'
import json, sys
storm = json.load(open(sys.argv[1]))
events, merged, merged_again, reviewed = (int(x) for x in sys.argv[2:6])
print(json.dumps({"replicas": 2, "reviews_sent": storm["sent"], "webhooks": storm["webhooks"],
                  "redelivered": storm["redelivered"], "events_stored": events, "merged": merged,
                  "duplicates": merged_again + max(0, events - storm["sent"]),
                  "lost": storm["sent"] - merged, "faces_reviewed": reviewed,
                  "answered_duplicate": storm["answered_duplicate"], "statuses": storm["statuses"],
                  "wall_s": storm["wall_s"], "webhooks_per_s": storm["webhooks_per_s"]}))
PY
