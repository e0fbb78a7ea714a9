#!/usr/bin/env bash
# The style checks CI runs: clang-format (the repo's .clang-format, Debian's clang-format 14) over
# every tracked C++ file, then clang-tidy (the repo's .clang-tidy) over every project source file
# with the build's compile_commands.json. Usage: scripts/check-style.sh [format|tidy|all] [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
build=${2:-${SEKE_BUILD_DIR:-build}}
CLANG_FORMAT=${CLANG_FORMAT:-clang-format-14}
CLANG_TIDY=${CLANG_TIDY:-clang-tidy-14}

if [[ $what == format || $what == all ]]; then
  mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h')
  "$CLANG_FORMAT" --dry-run --Werror "${files[@]}"
  echo "style: clang-format clean (${#files[@]} files)"
fi

if [[ $what == tidy || $what == all ]]; then
  if [ ! -f "$build/compile_commands.json" ]; then
    echo "style: $build/compile_commands.json is missing; configure the build first" >&2
    exit 1
  fi
  # Every source of the shipped code in the compile database, one clang-tidy per core. Tests and
  # benches are left out for time (Boost.Test makes each file several seconds dearer).
  sed -n 's/^ *"file": "\(.*\)",\{0,1\}$/\1/p' "$build/compile_commands.json" |
    grep -E "^$PWD/(verify|connectors|plugin|tools)/"'[^"]*\.cpp$' | sort -u |
    xargs -P "$(nproc)" -n 4 "$CLANG_TIDY" --quiet -p "$build" > "$build/clang-tidy.log" 2>&1 || true
  if grep -E '(warning|error): ' "$build/clang-tidy.log" | grep -v 'warnings generated' > "$build/clang-tidy.findings"; then
    sort -u "$build/clang-tidy.findings" | head -100 >&2
    echo "style: clang-tidy found $(sort -u "$build/clang-tidy.findings" | wc -l) problem(s); full log in $build/clang-tidy.log" >&2
    exit 1
  fi
  echo "style: clang-tidy clean"
fi
