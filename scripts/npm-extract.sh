#!/usr/bin/env bash
# Extracts folders of an npm package (from the npm registry) into a destination folder.
# Usage: scripts/npm-extract.sh PACKAGE@VERSION DEST PATH_IN_PACKAGE...
set -euo pipefail
spec=$1 dest=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$spec" >/dev/null)
mkdir -p "$dest"
paths=()
for path in "$@"; do paths+=("package/$path"); done
tar -xzf "$tmp"/*.tgz -C "$dest" --strip-components=1 "${paths[@]}"
