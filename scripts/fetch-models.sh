#!/usr/bin/env bash
# The face models' weights, as the npm packages ship them, into models/ (where seke looks by
# default; face.detector_model and the expert paths point elsewhere). Each block runs once, only
# when its files are missing.
#   models/face-api/: face-api's Tiny Face Detector, FaceExpressionNet and 68-point landmark net
#                     (@vladmandic/face-api, MIT)
#   models/human/:    Human's emotion net and facemesh (@vladmandic/human, MIT; facemesh is
#                     MediaPipe's, Apache-2.0)
set -euo pipefail
cd "$(dirname "$0")/.."
FACE_API=models/face-api
HUMAN=models/human
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The files of PACKAGE@VERSION at PATHS... go to DEST, unless they are all there already.
fetch() {
  local spec=$1 dest=$2
  shift 2
  local path missing=0
  for path in "$@"; do [ -f "$dest/$(basename "$path")" ] || missing=1; done
  [ "$missing" = 1 ] || return 0
  rm -rf "$tmp/out"
  bash scripts/npm-extract.sh "$spec" "$tmp/out" "$@"
  mkdir -p "$dest"
  for path in "$@"; do mv "$tmp/out/$path" "$dest/"; done
}

fetch @vladmandic/face-api@1.7.15 "$FACE_API" \
  model/tiny_face_detector_model-weights_manifest.json model/tiny_face_detector_model.bin
fetch @vladmandic/face-api@1.7.15 "$FACE_API" \
  model/face_expression_model-weights_manifest.json model/face_expression_model.bin \
  model/face_landmark_68_model-weights_manifest.json model/face_landmark_68_model.bin
fetch @vladmandic/human@3.3.6 "$HUMAN" \
  models/emotion.json models/emotion.bin models/facemesh.json models/facemesh.bin
