#!/usr/bin/env bash
# Installs what the tests need, builds everything once with clang 14 under AddressSanitizer and
# UndefinedBehaviorSanitizer (with the libFuzzer targets), and runs every test (unit +
# integration) in that build, then each fuzz target briefly from its seeds (CTest label fuzz).
# The build is build-sanitize/ (SEKE_BUILD_DIR); scripts/setup.sh's GCC release build in build/
# is the one to run seke from.
set -euo pipefail
cd "$(dirname "$0")/.."
# The style tools and the compiler first: a formatting slip fails in seconds, before the build.
# libclang-rt-14-dev holds the sanitizer and libFuzzer runtimes (clang-14 only recommends it).
missing=()
for pkg in clang-format-14 clang-tidy-14 clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bash scripts/check-style.sh format
export SEKE_BUILD_DIR=${SEKE_BUILD_DIR:-build-sanitize}
# Warnings are errors in CI; the Sanitize build type is -O1 with line tables (CMakeLists.txt).
SEKE_WERROR=ON SEKE_BUILD_TYPE=Sanitize \
  SEKE_CMAKE_ARGS="-DCMAKE_CXX_COMPILER=clang++-14 -DSEKE_SANITIZE=address,undefined -DSEKE_FUZZ=ON" \
  bash scripts/setup.sh
bash scripts/check-style.sh tidy "$SEKE_BUILD_DIR"
# The browser test loads the Label Studio editor in Debian's headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
bash scripts/fetch-test-assets.sh
cd "$SEKE_BUILD_DIR"
# The sanitizer options are CTest properties (SEKE_SANITIZER_ENVIRONMENT in CMakeLists.txt).
ctest --output-on-failure -j "$(nproc)" --timeout 900
