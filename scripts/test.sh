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
# The style tools (and for the sanitizer suite the compiler) first: a formatting slip fails in
# seconds, before the build. libclang-rt-14-dev holds the sanitizer and libFuzzer runtimes.
packages=(clang-format-14 clang-tidy-14)
[ "$SANITIZE" = 1 ] && packages+=(clang-14 libclang-rt-14-dev)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# PostgreSQL for the store suites on their second engine (CTest's fixture `postgres` starts a
# throwaway server of its own, scripts/postgres-test-server.sh). The package's own cluster is not
# made: nothing keeps running after the tests.
if ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed"; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-common >/dev/null
  sed -i 's/^#* *create_main_cluster *=.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
bash scripts/check-style.sh format
# Warnings are errors in CI.
if [ "$SANITIZE" = 1 ]; then
  export SEKE_BUILD_DIR=${SEKE_BUILD_DIR:-build-sanitize}
  # The Sanitize build type is -O1 with line tables (CMakeLists.txt).
  SEKE_WERROR=ON SEKE_BUILD_TYPE=Sanitize \
    SEKE_CMAKE_ARGS="-DCMAKE_CXX_COMPILER=clang++-14 -DSEKE_SANITIZE=address,undefined -DSEKE_FUZZ=ON" \
    bash scripts/setup.sh
else
  export SEKE_BUILD_DIR=${SEKE_BUILD_DIR:-build}
  SEKE_WERROR=ON bash scripts/setup.sh
fi
bash scripts/check-style.sh tidy "$SEKE_BUILD_DIR"
# The browser test loads the Label Studio editor in Debian's headless Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
bash scripts/fetch-test-assets.sh
cd "$SEKE_BUILD_DIR"
# Under the sanitizers their options are CTest properties (SEKE_SANITIZER_ENVIRONMENT).
ctest --output-on-failure -j "$(nproc)" --timeout 900
