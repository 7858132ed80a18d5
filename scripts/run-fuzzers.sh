#!/usr/bin/env bash
# Runs every built libFuzzer target for a bounded time from its committed seed
# corpus (fuzz/corpus/<name>/), in a scratch copy so the tree stays clean.
# Any crash fails the run; the crashing input is kept in fuzz-findings/.
set -euo pipefail
dir=$1; seconds=${2:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$root/fuzz-findings"
for bin in "$dir"/*_fuzz; do
  name=$(basename "$bin" _fuzz)
  mkdir -p "$work/$name"
  [ -d "$root/fuzz/corpus/$name" ] && cp -r "$root/fuzz/corpus/$name/." "$work/$name/"
  echo "fuzz: $name for ${seconds}s"
  "$bin" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
         -artifact_prefix="$root/fuzz-findings/$name-" -print_final_stats=0 "$work/$name" \
         >"$work/$name.log" 2>&1 || { tail -50 "$work/$name.log"; echo "fuzz: $name FAILED"; exit 1; }
  grep -E '^#[0-9]+.*(DONE|pulse)' "$work/$name.log" | tail -1 || true
done
echo "fuzz: all targets ran without a crash"
