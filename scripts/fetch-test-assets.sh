#!/usr/bin/env bash
# Test assets from the npm registry, fetched once into build/test-assets/ (kept out of the repo):
# real face photos (@vladmandic/face-api's demo/) and the Label Studio editor bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${SEKE_BUILD_DIR:-build}/test-assets
mkdir -p "$DEST"
if [ ! -d "$DEST/face-api/demo" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @vladmandic/face-api@1.7.15 >/dev/null)
  mkdir -p "$DEST/face-api"
  tar -xzf "$tmp"/vladmandic-face-api-*.tgz -C "$DEST/face-api" --strip-components=1 package/demo
  rm -rf "$tmp"
fi

# The Label Studio editor's built bundle, for the browser test of /predict answers.
LSF="$DEST/label-studio"
if [ ! -f "$LSF/build/static/js/main.js" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @heartexlabs/label-studio@1.4.0 >/dev/null)
  mkdir -p "$LSF"
  tar -xzf "$tmp"/heartexlabs-label-studio-*.tgz -C "$LSF" --strip-components=1 package/build
  rm -rf "$tmp"
fi
