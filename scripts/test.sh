#!/usr/bin/env bash
# Installs what the tests need, builds everything and runs every test (unit + integration).
#   bash scripts/test.sh      what CI runs: GCC (build type Check), warnings as errors, in build/:
#                             the whole suite, clang-tidy beside it
#   SEKE_TEST_BUILD=sanitize bash scripts/test.sh
#                             the same suite built by clang 14 under AddressSanitizer and
#                             UndefinedBehaviorSanitizer, with the libFuzzer targets, in
#                             build-sanitize/: each fuzz target briefly from its seeds (CTest label
#                             fuzz) as well (32-36 min on 2 cores, over CI's 30: docs/benchmarks.md)
#   SEKE_TEST_BUILD=thread bash scripts/test.sh
#                             clang 14 under ThreadSanitizer, in build-tsan/: the suites that run
#                             threads (CTest label concurrency), no fuzz targets, no clang-tidy
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SEKE_TEST_BUILD:-gcc}
case "$BUILD" in
  sanitize | gcc | thread) ;;
  *) echo "SEKE_TEST_BUILD is sanitize, gcc or thread, not '$BUILD'" >&2; exit 2 ;;
esac
# Everything from Debian's archive at once: what seke needs, the style tools, PostgreSQL for the
# store suites on their second engine (CTest's fixture `postgres` starts a throwaway server,
# scripts/postgres-test-server.sh), Chromium for the browser tests, nginx and docker-compose for
# docs/deploy.md's nginx config in front of two replicas and its compose file (`docker-compose
# config`, which needs no daemon); for the clang builds clang 14 and libclang-rt-14-dev (the
# sanitizer and libFuzzer runtimes).
source scripts/packages.sh
packages=("${SEKE_BUILD_PACKAGES[@]}" clang-format-14 clang-tidy-14 postgresql chromium nginx docker-compose)
[ "$BUILD" = gcc ] || packages+=(clang-14 libclang-rt-14-dev)
install_missing_packages "${packages[@]}"
# A formatting slip fails in seconds, before the build.
bash scripts/check-style.sh format
case "$BUILD" in
  sanitize) export SEKE_BUILD_DIR=${SEKE_BUILD_DIR:-build-sanitize} ;;
  gcc) export SEKE_BUILD_DIR=${SEKE_BUILD_DIR:-build} ;;
  thread) export SEKE_BUILD_DIR=${SEKE_BUILD_DIR:-build-tsan} ;;
esac
mkdir -p "$SEKE_BUILD_DIR"
# The test assets (npm: face photos, the Label Studio editor) download while the build runs.
bash scripts/fetch-test-assets.sh >"$SEKE_BUILD_DIR/fetch-test-assets.log" 2>&1 &
assets=$!
# Warnings are errors in every test build. The clang builds' type Sanitize is -O1 with line
# tables, their test binaries -O0; GCC's Check is -O2 without debug info, its test binaries -O1
# (CMakeLists.txt, cmake/SekeTests.cmake).
case "$BUILD" in
  sanitize)
    SEKE_WERROR=ON SEKE_BUILD_TYPE=Sanitize \
      SEKE_CMAKE_ARGS="-DCMAKE_CXX_COMPILER=clang++-14 -DSEKE_SANITIZE=address,undefined -DSEKE_FUZZ=ON" \
      bash scripts/setup.sh ;;
  gcc) SEKE_WERROR=ON SEKE_BUILD_TYPE=${SEKE_BUILD_TYPE:-Check} bash scripts/setup.sh ;;
  thread)
    SEKE_WERROR=ON SEKE_BUILD_TYPE=Sanitize \
      SEKE_CMAKE_ARGS="-DCMAKE_CXX_COMPILER=clang++-14 -DSEKE_SANITIZE=thread" bash scripts/setup.sh ;;
esac
if ! wait "$assets"; then
  cat "$SEKE_BUILD_DIR/fetch-test-assets.log" >&2
  exit 1
fi
if [ "$BUILD" = thread ]; then
  # Under ThreadSanitizer a process runs 5-15 times slower: only the suites that run threads.
  (cd "$SEKE_BUILD_DIR" && ctest --output-on-failure -j "$(nproc)" --timeout 1800 -L concurrency)
  exit
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
