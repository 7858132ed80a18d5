#!/usr/bin/env bash
# Runs the benchmarks built in BUILD_DIR (make bench: build-bench, Release)
# and writes their figures into BENCHMARKS.md at the repository root.
#
#   bash bench/run.sh BUILD_DIR
#
# Databases go to BUILD_DIR/bench-tmp (the disk the project lives on, not a
# tmpfs: fsync costs are part of what is measured) and are removed after.
# The generated block of BENCHMARKS.md is replaced; the text around it (the
# analysis) is kept.
set -euo pipefail
build=${1:?usage: bash bench/run.sh BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rel_build=$(realpath --relative-to="$root" "$build")
tmp="$rel_build/bench-tmp"
json="$rel_build/vault_bench.json"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT

# Repetitions: the machine is shared; the report uses the median of three.
args=(--benchmark_repetitions=3 --benchmark_report_aggregates_only=true)
direct="MEDVAULT_BENCH_TMPDIR=$tmp $rel_build/bench/vault_bench ${args[*]}"
echo "bench: $direct"
MEDVAULT_BENCH_TMPDIR="$tmp" "$rel_build/bench/vault_bench" "${args[@]}" \
  --benchmark_out="$json" --benchmark_out_format=json

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
python3 bench/report.py --json "$json" --md BENCHMARKS.md --direct "$direct" \
  --nproc "$(nproc)" --cpu "${cpu:-unknown}" --kernel "$(uname -r)"
echo "bench: figures written to BENCHMARKS.md"
