#!/usr/bin/env bash
# The face detector's weights: face-api's Tiny Face Detector (MIT), as the @vladmandic/face-api
# npm package ships it, into models/face-api/ (where seke looks by default; face.detector_model
# points elsewhere). Fetched once.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=models/face-api
if [ ! -f "$DEST/tiny_face_detector_model-weights_manifest.json" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  bash scripts/npm-extract.sh @vladmandic/face-api@1.7.15 "$tmp" model/tiny_face_detector_model-weights_manifest.json \
    model/tiny_face_detector_model.bin
  mkdir -p "$DEST"
  mv "$tmp"/model/tiny_face_detector_model* "$DEST"/
fi
