#!/usr/bin/env bash
# Runs one fuzz target for SECONDS from its committed seeds (fuzz/corpus/TARGET/, read only) and
# its dictionary (fuzz/TARGET.dict, when there is one). Inputs that find new coverage go to
# WORK/corpus, a crashing input to WORK/crash-*. CTest and bench/fuzz.sh both run targets this way.
# Usage: fuzz/run-target.sh BINARY TARGET SECONDS WORK [libFuzzer flags...]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
binary=$1 target=$2 seconds=$3 work=$4
shift 4
mkdir -p "$work/corpus"
dictionary=()
if [ -f "$here/$target.dict" ]; then dictionary=("-dict=$here/$target.dict"); fi
exec "$binary" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$work/" "${dictionary[@]}" "$@" "$work/corpus" "$here/corpus/$target"
