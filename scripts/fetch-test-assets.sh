#!/usr/bin/env bash
# Real face photos for the face-detection tests, from the @vladmandic/face-api npm package
# (its demo/ folder). Kept out of the repo; fetched once into build/test-assets/.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${SEKE_BUILD_DIR:-build}/test-assets
[ -d "$DEST/face-api/demo" ] && exit 0
mkdir -p "$DEST"
tmp=$(mktemp -d)
(cd "$tmp" && npm pack --silent @vladmandic/face-api@1.7.15 >/dev/null)
mkdir -p "$DEST/face-api"
tar -xzf "$tmp"/vladmandic-face-api-*.tgz -C "$DEST/face-api" --strip-components=1 package/demo
rm -rf "$tmp"
