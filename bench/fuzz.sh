#!/usr/bin/env bash
# Benchmark — the long fuzz run: every libFuzzer target in fuzz/ for SECONDS (default 300) from
# its committed seeds, two at a time, then one line per target: executions per second, the
# corpus it grew to, coverage (cov: edges, ft: features), peak RSS and whether it crashed.
# Needs the sanitizer build CI makes (scripts/test.sh; SEKE_FUZZ=ON). A crashing input is kept in
# BUILD/fuzz-bench/<target>/crash-*; the grown corpora stay there for the next run to start from.
# Usage: bench/fuzz.sh [seconds-per-target] [jobs]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:-300}
JOBS=${2:-2}
BUILD=${SEKE_BUILD_DIR:-build-sanitize}
WORK=$BUILD/fuzz-bench
mapfile -t binaries < <(find "$BUILD/fuzz" -maxdepth 1 -type f -name 'seke-fuzz-*' -perm -u+x | sort)
if [ ${#binaries[@]} -eq 0 ]; then
  echo "fuzz: no targets in $BUILD/fuzz; build with -DSEKE_FUZZ=ON (scripts/test.sh does)" >&2
  exit 1
fi
mkdir -p "$WORK"
echo "fuzz: ${#binaries[@]} targets, ${SECONDS_PER_TARGET} s each, $JOBS at a time" >&2
printf '%s\n' "${binaries[@]}" | xargs -P "$JOBS" -I{} bash -c '
  target=$(basename "$1"); target=${target#seke-fuzz-}
  bash fuzz/run-target.sh "$1" "$target" "$2" "$3/$target" > "$3/$target.log" 2>&1 || true
' _ {} "$SECONDS_PER_TARGET" "$WORK"

echo "| target | execs/s | execs | cov | ft | corpus (inputs / bytes) | peak RSS MB | crash |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
crashed=0
for binary in "${binaries[@]}"; do
  target=$(basename "$binary"); target=${target#seke-fuzz-}
  log=$WORK/$target.log
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  # The last status line: "#N DONE cov: C ft: F corp: U/Bb ..." (or the last pulse before a crash).
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[A-Za-z]*\).*/\1/p' <<<"$last")
  crash=no
  if compgen -G "$WORK/$target/crash-*" >/dev/null || compgen -G "$WORK/$target/leak-*" >/dev/null ||
     compgen -G "$WORK/$target/timeout-*" >/dev/null || compgen -G "$WORK/$target/oom-*" >/dev/null; then
    crash="yes: $(ls "$WORK/$target" | grep -E '^(crash|leak|timeout|oom)-' | head -1)"
    crashed=$((crashed + 1))
  fi
  echo "| $target | $(stat average_exec_per_sec) | $(stat number_of_executed_units) | ${cov:-?} | ${ft:-?} | ${corp:-?} | $(stat peak_rss_mb) | $crash |"
done
echo "fuzz: logs in $WORK/<target>.log" >&2
[ "$crashed" -eq 0 ]
