#!/usr/bin/env bash
# Benchmark — /predict on slow media (issue 12, item 3): task images served over HTTP with a
# fixed latency each, a big call for one project, then a one-task call for another project a
# moment later. Prints how long each call took and how many of its tasks came back labeled.
# Defaults: 40 tasks, 1 s media, 4 media threads, 5 s deadline, the small call 0.5 s later.
# Needs: python3, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SEKE_BUILD_DIR:-build}
TASKS=${TASKS:-40}
MEDIA_MS=${MEDIA_MS:-1000}
MEDIA_THREADS=${MEDIA_THREADS:-4}
DEADLINE_MS=${DEADLINE_MS:-5000}
SMALL_AFTER_S=${SMALL_AFTER_S:-0.5}
EXTRA_FLAGS=${EXTRA_FLAGS:-}
WORK=$(mktemp -d /tmp/seke-bench-slow-media.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

"$BUILD/tools/fake_vllm/seke-fake-vllm" make-dataset --out "$WORK/data" --count "$((TASKS + 1))" --seed 3 --size 96 >/dev/null
"$BUILD/tools/fake_vllm/seke-fake-vllm" serve --truth "$WORK/data/truth.jsonl" --port 0 --port-file "$WORK/fport" >/dev/null 2>&1 &
# The slow media server: every GET waits MEDIA_MS, each on its own thread.
python3 - "$WORK/data" "$MEDIA_MS" "$WORK/mport" <<'PY' >/dev/null 2>&1 &
import functools, http.server, sys, time
root, delay_s, port_file = sys.argv[1], int(sys.argv[2]) / 1000, sys.argv[3]
class Slow(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        time.sleep(delay_s)
        super().do_GET()
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Slow, directory=root))
server.daemon_threads = True
open(port_file, "w").write(str(server.server_address[1]))
server.serve_forever()
PY
for _ in $(seq 1 100); do [ -s "$WORK/fport" ] && [ -s "$WORK/mport" ] && break; sleep 0.05; done
OPENAI_BASE_URL="http://127.0.0.1:$(cat "$WORK/fport")/v1" \
  "$BUILD/plugin/seke" serve --port 0 --db "$WORK/seke.db" --face-detection off --media-threads "$MEDIA_THREADS" \
  --predict-deadline-ms "$DEADLINE_MS" $EXTRA_FLAGS 2>"$WORK/serve.log" &
for _ in $(seq 1 200); do grep -q '"msg":"listening"' "$WORK/serve.log" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/.*"msg":"listening".*"port":\([0-9]*\).*/\1/p' "$WORK/serve.log" | head -1)

python3 - "$WORK" "$(cat "$WORK/mport")" "$TASKS" <<'PY'
import json, sys
work, media_port, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = open("config/label_studio/faces.xml").read()
truth = [json.loads(line) for line in open(f"{work}/data/truth.jsonl")]
tasks = [{"id": i + 1, "data": {"image": f"http://127.0.0.1:{media_port}/{t['image']}"}} for i, t in enumerate(truth)]
json.dump({"tasks": tasks[:count], "label_config": config, "project": "1"}, open(f"{work}/big.json", "w"))
json.dump({"tasks": tasks[count:], "label_config": config, "project": "2"}, open(f"{work}/small.json", "w"))
PY

timed_post() {  # name body out
  curl -s -o "$3" -w '%{time_total}' -XPOST "localhost:$PORT/predict" --data-binary @"$2" >"$3.time"
}
timed_post big "$WORK/big.json" "$WORK/big.out" &
BIG=$!
sleep "$SMALL_AFTER_S"
timed_post small "$WORK/small.json" "$WORK/small.out"
wait "$BIG"
python3 - "$WORK" "$TASKS" "$MEDIA_MS" "$MEDIA_THREADS" "$DEADLINE_MS" "$SMALL_AFTER_S" <<'PY'
import json, sys
work, tasks, media_ms, threads, deadline_ms, after = sys.argv[1:]
for name in ("big", "small"):
    results = json.load(open(f"{work}/{name}.out"))["results"]
    labeled = sum(1 for r in results if isinstance(r, dict))
    print(json.dumps({"call": name, "seconds": round(float(open(f"{work}/{name}.out.time").read()), 2),
                      "tasks": len(results), "labeled": labeled, "media_ms": int(media_ms),
                      "media_threads": int(threads), "deadline_ms": int(deadline_ms),
                      "small_sent_after_s": float(after)}))
PY
