#!/usr/bin/env bash
# Backup benchmark (issue 7): `medvault backup` against restic, side by side
# on the same vault in the same run. Writes its table into BENCHMARKS.md
# (section "Backups vs restic"), or into $BENCH_MD when set.
#
#   bash bench/backup_bench.sh MEDVAULT_BINARY [PATIENTS] [RUNS]
#
# One vault of PATIENTS synthetic patients (demo-data, default 600: a
# vault.db of about 225 MB) with a 2-of-3 recovery kit is built once; each of
# RUNS runs (default 2) starts from a copy of it and times, for both tools:
#   first backup   medvault backup create --to DIR  |  restic backup (a copy of the stopped vault directory)
#   second backup  after 1 % of the resources were changed (every 100th line
#                  of the demo data, re-imported with "language" set: a new
#                  version of each, so a new row, new index tokens and audit entries)
#   full restore   medvault backup restore --share x2 (chunk hashes and AEAD,
#                  SQLite quick_check, audit chain and root; the full record
#                  check, `medvault check`, is timed apart) | restic restore latest
#   repository size (du -sb) after both backups.
# restic runs with its defaults: repository format 2, compression "auto"
# (zstd, fastest level; medvault uses zstd level 1), AES-256 + Poly1305,
# content-defined chunks of 512 KiB-8 MiB (medvault: 256 KiB-4 MiB, 1 MiB
# average), GOMAXPROCS = all cores. Its password is in a file of the
# temporary directory (RESTIC_PASSWORD_FILE), never on a command line.
#
# Temporary files go to $TMPDIR (default /tmp, a disk here, not a tmpfs:
# fsync costs count) and are removed at the end.
set -euo pipefail
bin=$(realpath "${1:?usage: bash bench/backup_bench.sh MEDVAULT_BINARY [PATIENTS] [RUNS]}")
patients=${2:-600}
runs=${3:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v restic >/dev/null || { echo "bench: restic is missing (bash scripts/setup.sh bench)" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mv-backupbench-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export MEDVAULT_PASSPHRASE="backup bench passphrase" MEDVAULT_TEST_FAST_KDF=1
export RESTIC_PASSWORD_FILE=$tmp/restic.pass RESTIC_CACHE_DIR=$tmp/restic-cache
head -c 32 /dev/urandom | base64 > "$RESTIC_PASSWORD_FILE"
chmod 600 "$RESTIC_PASSWORD_FILE"

# Elapsed seconds of a command (its output to $tmp/last.log).
timed() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > "$tmp/last.log" 2>&1 || { echo "bench: failed: $*" >&2; cat "$tmp/last.log" >&2; return 1; }
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

echo "bench: building a vault of $patients demo patients" >&2
base=$tmp/base
"$bin" init --data "$base" --shares 3 --threshold 2 --kit "$tmp/kit" >/dev/null
"$bin" demo-data --patients "$patients" --seed 7 > "$tmp/demo.ndjson"
"$bin" import --data "$base" "$tmp/demo.ndjson" >/dev/null 2>&1
# 1 % of the resources, changed: every 100th line with "language" set (a
# valid element of every resource) so the import writes a new version.
python3 - "$tmp/demo.ndjson" "$tmp/change.ndjson" <<'PY'
import json, sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as out:
    for i, line in enumerate(src):
        if i % 100 == 50:
            r = json.loads(line)
            r["language"] = "en-GB" if r.get("language") != "en-GB" else "fr-FR"
            out.write(json.dumps(r, separators=(",", ":")) + "\n")
PY
resources=$(wc -l < "$tmp/demo.ndjson")
changed=$(wc -l < "$tmp/change.ndjson")
dbsize=$(stat -c %s "$base/vault.db")
echo "bench: $resources resources, vault.db $dbsize bytes; $changed resources change between the backups" >&2

results=()
for r in $(seq "$runs"); do
  run=$tmp/run$r
  mkdir -p "$run"
  cp -a "$base" "$run/vault"
  export RESTIC_REPOSITORY=$run/restic-repo
  restic init --repository-version 2 >/dev/null
  # restic reads a copy of the stopped vault directory (the medvault runs
  # below write audit entries into the live one).
  cp -a "$run/vault" "$run/rsrc"
  m1=$(timed "$bin" backup create --data "$run/vault" --to "$run/mv-repo")
  r1=$(timed restic backup --host bench --compression auto "$run/rsrc")

  "$bin" import --data "$run/vault" "$tmp/change.ndjson" >/dev/null 2>&1
  rm -rf "$run/rsrc" && cp -a "$run/vault" "$run/rsrc"
  m2=$(timed "$bin" backup create --data "$run/vault" --to "$run/mv-repo")
  mnew=$(sed -n 's/.*new data \([0-9.]* MiB\) (\([0-9.]* MiB\) stored).*/\1 new, \2 stored/p' "$tmp/last.log")
  r2=$(timed restic backup --host bench --compression auto "$run/rsrc")
  rnew=$(sed -n 's/^Added to the repo[^:]*: *\(.*\)$/\1/p' "$tmp/last.log")

  m3=$(timed "$bin" backup restore --from "$run/mv-repo" --data "$run/mv-restored" \
         --share "$tmp/kit/share-1.txt" --share "$tmp/kit/share-3.txt")
  # The part of medvault's restore that is its full vault check, alone.
  mchk=$(timed "$bin" check --data "$run/mv-restored")
  r3=$(timed restic restore latest --target "$run/restic-restored")
  cmp -s "$run/rsrc/vault.db" "$run/restic-restored$run/rsrc/vault.db" || { echo "bench: restic restored a different vault.db" >&2; exit 1; }

  msize=$(du -sb "$run/mv-repo" | cut -f1)
  rsize=$(du -sb "$run/restic-repo" | cut -f1)
  vsize=$(du -sb "$run/rsrc" | cut -f1)
  echo "bench: run $r: first $m1 s / $r1 s; second $m2 s / $r2 s; restore $m3 s (check $mchk s) / $r3 s; size $msize / $rsize bytes" >&2
  results+=("$r|$m1|$r1|$m2|$r2|$m3|$mchk|$r3|$msize|$rsize|$vsize|$mnew|$rnew")
  rm -rf "$run"
done

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
python3 - "${BENCH_MD:-$root/BENCHMARKS.md}" "$patients" "$resources" "$changed" "$dbsize" "$(nproc)" "${cpu:-unknown}" \
  "$(restic version | cut -d' ' -f1-2)" "$(realpath --relative-to="$root" "$bin")" "${results[@]}" <<'PY'
import datetime, os, re, sys
path, patients, resources, changed, dbsize, nproc, cpu, restic, binary = sys.argv[1:10]
rows = [r.split("|") for r in sys.argv[10:]]
mib = lambda b: f"{int(b) / 2**20:,.1f} MiB"
ratio = lambda a, b: f"{float(a) / float(b):.2f}" if float(b) > 0 else "-"
out = ["<!-- backup_bench:begin (generated by bench/backup_bench.sh) -->", "",
       f"Run {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}, {nproc} cores ({cpu}), "
       f"Linux {os.uname().release}, {restic}; load average at end {os.getloadavg()[0]:.2f} "
       "(the machine is shared with other engineers' builds and tests: times vary from run to run).", "",
       f"Data: `medvault demo-data --patients {patients} --seed 7`, {int(resources):,} resources, "
       f"vault.db {mib(dbsize)}; between the two backups {int(changed):,} resources (1 %) get a new version "
       "through `medvault import`.", "",
       f"Command: `bash bench/backup_bench.sh {binary} {patients} {len(rows)}` "
       "(part of `make bench`).", "",
       "| run | step | medvault (s) | restic (s) | medvault / restic |", "|---|---|---:|---:|---:|"]
for r, m1, r1, m2, r2, m3, mchk, r3, ms, rs, vs, mnew, rnew in rows:
    out.append(f"| {r} | first backup | {m1} | {r1} | {ratio(m1, r1)} |")
    out.append(f"| {r} | second backup (1 % changed) | {m2} | {r2} | {ratio(m2, r2)} |")
    out.append(f"| {r} | full restore (medvault: chunks authenticated, quick_check, audit chain; its full record check `medvault check`, not included: {mchk} s) | {m3} | {r3} | {ratio(m3, r3)} |")
out += ["", "| run | vault directory | medvault repository | restic repository | medvault / restic | "
        "second backup added: medvault | restic |", "|---|---:|---:|---:|---:|---|---|"]
for r, m1, r1, m2, r2, m3, mchk, r3, ms, rs, vs, mnew, rnew in rows:
    out.append(f"| {r} | {mib(vs)} | {mib(ms)} | {mib(rs)} | {ratio(ms, rs)} | {mnew} | {rnew} |")
out += ["", "<!-- backup_bench:end -->"]
block = "\n".join(out)
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
if "<!-- backup_bench:begin" in text:
    text = re.sub(r"<!-- backup_bench:begin.*?<!-- backup_bench:end -->", lambda _: block, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n## Backups vs restic (issue 7)\n\n" + block + "\n"
open(path, "w").write(text)
PY
echo "bench: backup figures written to ${BENCH_MD:-BENCHMARKS.md}"
