#!/usr/bin/env bash
# seke's main job with no API key and no network at run time: label real photographs (the demo
# photos of the @vladmandic/face-api npm package, fetched at set-up) with the built-in face
# expert, export the FEID records, draw every face's labels onto a copy of its photo, and print
# where everything is. With a vision LLM: set OPENAI_BASE_URL, OPENAI_API_KEY and SEKE_MODEL and
# run build/plugin/seke label yourself (the expert then reads every face as a second opinion).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

BUILD_DIR=${SEKE_BUILD_DIR:-build}
OUT=${SEKE_DEMO_OUT:-out/demo}
PHOTOS=$OUT/photos
mkdir -p "$OUT"
if [ ! -f "$PHOTOS/sample1.jpg" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  bash scripts/npm-extract.sh @vladmandic/face-api@1.7.15 "$tmp" demo
  mkdir -p "$PHOTOS"
  mv "$tmp"/demo/sample*.jpg "$PHOTOS"/
fi

rm -f "$OUT/seke.db"
"$BUILD_DIR/plugin/seke" label --provider expert --input "$PHOTOS" --db "$OUT/seke.db" --boxes "$OUT/boxes"
"$BUILD_DIR/plugin/seke" export --db "$OUT/seke.db" --format feid-jsonl --out "$OUT/feid.jsonl"
"$BUILD_DIR/plugin/seke" export --db "$OUT/seke.db" --format sharegpt --out "$OUT/feid-sharegpt.json"

echo
echo "demo: pictures (each face's box, expression, VA and AUs): $PWD/$OUT/boxes/"
echo "demo: FEID:    $PWD/$OUT/feid.jsonl"
echo "demo: ShareGPT (LLaMA-Factory): $PWD/$OUT/feid-sharegpt.json"
echo "demo: store:   $PWD/$OUT/seke.db"
echo "demo: the synthetic SV-UAMC demo against the fake VLLM: bash scripts/demo-fake-vllm.sh"
