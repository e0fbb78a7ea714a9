#!/usr/bin/env bash
# Installs what the tests need, builds everything and runs every test (unit + integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The browser test loads the Label Studio editor in Debian's headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
bash scripts/fetch-test-assets.sh
BUILD_DIR=${SEKE_BUILD_DIR:-build}
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" --timeout 900
