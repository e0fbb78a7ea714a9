#!/usr/bin/env bash
# SV-UAMC with no API key: label the bundled synthetic sample set against the bundled fake VLLM
# (a simulator of a vision LLM, tools/fake_vllm/), export the FEID records, and print where
# everything is. To use a real model instead, set OPENAI_BASE_URL, OPENAI_API_KEY and SEKE_MODEL
# and run build/plugin/seke label yourself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

BUILD_DIR=${SEKE_BUILD_DIR:-build}
OUT=${SEKE_DEMO_OUT:-out/demo-fake-vllm}
mkdir -p "$OUT"
rm -f "$OUT/fake.port"

"$BUILD_DIR/tools/fake_vllm/seke-fake-vllm" serve --truth samples/truth.jsonl --port 0 \
  --port-file "$OUT/fake.port" --latency-ms 40 > "$OUT/fake-vllm.log" 2>&1 &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do [ -s "$OUT/fake.port" ] && break; sleep 0.1; done
[ -s "$OUT/fake.port" ] || { echo "demo: the fake VLLM did not start (see $OUT/fake-vllm.log)" >&2; exit 1; }

export OPENAI_BASE_URL="http://127.0.0.1:$(cat "$OUT/fake.port")/v1"
export OPENAI_API_KEY=demo-key SEKE_MODEL=fake-vllm
"$BUILD_DIR/plugin/seke" label --input samples/manifest.jsonl --db "$OUT/seke.db" --face-detection off
"$BUILD_DIR/plugin/seke" export --db "$OUT/seke.db" --format feid-jsonl --out "$OUT/feid.jsonl"
"$BUILD_DIR/plugin/seke" export --db "$OUT/seke.db" --format sharegpt --out "$OUT/feid-sharegpt.json"

echo
echo "demo: store:   $PWD/$OUT/seke.db"
echo "demo: FEID:    $PWD/$OUT/feid.jsonl"
echo "demo: ShareGPT (LLaMA-Factory): $PWD/$OUT/feid-sharegpt.json"
