#!/usr/bin/env bash
# Installs what the tests need, builds everything and runs every test (unit + integration).
#   bash scripts/test.sh                    GCC, warnings as errors, in build/ (what CI runs)
#   SEKE_SANITIZE_SUITE=1 bash scripts/test.sh
#                                           clang 14 under AddressSanitizer and
#                                           UndefinedBehaviorSanitizer, with the libFuzzer targets,
#                                           in build-sanitize/: the whole suite, then each fuzz
#                                           target briefly from its seeds (CTest label fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZE=${SEKE_SANITIZE_SUITE:-0}
# Everything from Debian's archive at once: what seke needs, the style tools, PostgreSQL for the
# store suites on their second engine (CTest's fixture `postgres` starts a throwaway server,
# scripts/postgres-test-server.sh) and Chromium for the browser tests; for the sanitizer suite
# clang 14 and libclang-rt-14-dev (the sanitizer and libFuzzer runtimes).
source scripts/packages.sh
packages=("${SEKE_BUILD_PACKAGES[@]}" clang-format-14 clang-tidy-14 postgresql chromium)
[ "$SANITIZE" = 1 ] && packages+=(clang-14 libclang-rt-14-dev)
install_missing_packages "${packages[@]}"
# A formatting slip fails in seconds, before the build.
bash scripts/check-style.sh format
if [ "$SANITIZE" = 1 ]; then
  export SEKE_BUILD_DIR=${SEKE_BUILD_DIR:-build-sanitize}
else
  export SEKE_BUILD_DIR=${SEKE_BUILD_DIR:-build}
fi
mkdir -p "$SEKE_BUILD_DIR"
# The test assets (npm: face photos, the Label Studio editor) download while the build runs.
bash scripts/fetch-test-assets.sh >"$SEKE_BUILD_DIR/fetch-test-assets.log" 2>&1 &
assets=$!
# Warnings are errors in CI.
if [ "$SANITIZE" = 1 ]; then
  # The Sanitize build type is -O1 with line tables (CMakeLists.txt).
  SEKE_WERROR=ON SEKE_BUILD_TYPE=Sanitize \
    SEKE_CMAKE_ARGS="-DCMAKE_CXX_COMPILER=clang++-14 -DSEKE_SANITIZE=address,undefined -DSEKE_FUZZ=ON" \
    bash scripts/setup.sh
else
  # The Check build type is -O2 without debug info, the test binaries -O1 (CMakeLists.txt).
  SEKE_WERROR=ON SEKE_BUILD_TYPE=${SEKE_BUILD_TYPE:-Check} bash scripts/setup.sh
fi
if ! wait "$assets"; then
  cat "$SEKE_BUILD_DIR/fetch-test-assets.log" >&2
  exit 1
fi
# clang-tidy reads the sources, not the tests' behaviour: it runs beside the tests, which spend
# much of their time waiting on sockets and child processes.
bash scripts/check-style.sh tidy "$SEKE_BUILD_DIR" >"$SEKE_BUILD_DIR/check-style.out" 2>&1 &
tidy=$!
# Under the sanitizers their options are CTest properties (SEKE_SANITIZER_ENVIRONMENT).
tests_ok=1
(cd "$SEKE_BUILD_DIR" && ctest --output-on-failure -j "$(nproc)" --timeout 900) || tests_ok=0
tidy_ok=1
wait "$tidy" || tidy_ok=0
cat "$SEKE_BUILD_DIR/check-style.out"
[ "$tests_ok" = 1 ] && [ "$tidy_ok" = 1 ]
