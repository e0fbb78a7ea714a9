#!/usr/bin/env bash
# FEAB scoring speed: 100,000 truth items and 100,000 full FEID prediction records (six sources,
# per-level uncertainty), scored by `seke feab score` with the HTML/JSON report written.
# Usage: bash bench/feab_score.sh [ITEMS=100000] [SEED=1]
set -euo pipefail
cd "$(dirname "$0")/.."
ITEMS=${1:-100000}
SEED=${2:-1}
BUILD=${SEKE_BUILD_DIR:-build}
WORK=$(mktemp -d /tmp/seke-bench-feab.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

"$BUILD/bench/seke-bench-feab-records" --count "$ITEMS" --seed "$SEED" --out "$WORK" >/dev/null
echo "truth $(du -h "$WORK/truth.jsonl" | cut -f1), predictions $(du -h "$WORK/pred.jsonl" | cut -f1)"

for run in 1 2 3; do
  /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" \
    "$BUILD/plugin/seke" feab score --truth "$WORK/truth.jsonl" --pred "$WORK/pred.jsonl" --out "$WORK/report" \
    >"$WORK/summary.txt" 2>/dev/null
  read -r wall user sys rss <"$WORK/time"
  echo "{\"run\": $run, \"items\": $ITEMS, \"wall_s\": $wall, \"user_s\": $user, \"sys_s\": $sys, \"peak_rss_mb\": $((rss / 1024))}"
done
sed -n '1,8p' "$WORK/summary.txt"
