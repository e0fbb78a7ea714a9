#!/usr/bin/env bash
# Installs what the tests need, builds everything and runs every test (unit + integration).
set -euo pipefail
cd "$(dirname "$0")/.."
# The style tools first: a formatting slip fails in seconds, before the build.
for tool in clang-format-14 clang-tidy-14; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$tool" >/dev/null
  fi
done
bash scripts/check-style.sh format
# Warnings are errors in CI.
SEKE_WERROR=ON bash scripts/setup.sh
bash scripts/check-style.sh tidy "${SEKE_BUILD_DIR:-build}"
# The browser test loads the Label Studio editor in Debian's headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
bash scripts/fetch-test-assets.sh
BUILD_DIR=${SEKE_BUILD_DIR:-build}
cd "$BUILD_DIR"
ctest --output-on-failure -j "$(nproc)" --timeout 900
