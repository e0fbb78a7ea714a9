#!/usr/bin/env bash
# Test assets from the npm registry, fetched once into build/test-assets/ (kept out of the repo):
# real face photos (@vladmandic/face-api's demo/) and the Label Studio editor bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${SEKE_BUILD_DIR:-build}/test-assets
mkdir -p "$DEST"
if [ ! -d "$DEST/face-api/demo" ]; then
  bash scripts/npm-extract.sh @vladmandic/face-api@1.7.15 "$DEST/face-api" demo
fi

# The Label Studio editor's built bundle, for the browser test of /predict answers.
LSF="$DEST/label-studio"
if [ ! -f "$LSF/build/static/js/main.js" ]; then
  bash scripts/npm-extract.sh @heartexlabs/label-studio@1.4.0 "$LSF" build
fi
