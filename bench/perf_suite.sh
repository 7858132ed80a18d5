#!/usr/bin/env bash
# The performance suite of issue 8: for each vault size, a vault made by the
# synthetic generator, then on loopback with TLS, every protection on
# (encryption, policy, durable audit of every request):
#   nginx serving a static 2 KiB FHIR Patient (the ceiling, same TLS settings);
#   medvault read by id (random ids), a physician reading the charts of the
#   patients whose GP they are (random Observations: policy facts with care
#   relationships), search by name prefix, create, and a mix
#   of 70 % reads, 20 % searches, 10 % writes; requests/s, p50, p99 each;
#   import throughput, start-up time after unseal, RSS at rest and under
#   load, `audit verify` rate.
# Writes its table into BENCHMARKS.md ("Performance suite").
#
#   bash bench/perf_suite.sh MEDVAULT_BINARY [PATIENTS...]    (default: 10000 100000)
#
# Environment: SECONDS_PER_LOAD (default 15), CONNECTIONS (default 32),
# BENCH_TMP (default build dir's sibling bench-tmp on the project's disk:
# fsync costs are part of what is measured).
# KEEP_VAULTS=DIR: each scale's vault is made in DIR/SCALE/vault (with the
# load's inputs and the import figures in DIR/SCALE/inputs) and kept; a later
# run with the same DIR measures that vault again, with its binary, without
# importing (the 100k import takes over an hour). A kept vault grows with
# every run (audit entries, the creates' patients): the table says so.
# BENCH_MD: the file the table is written into (default BENCHMARKS.md).
set -euo pipefail
bin=$(realpath "${1:?usage: bash bench/perf_suite.sh MEDVAULT_BINARY [PATIENTS...]}")
shift
scales=("$@")
[ ${#scales[@]} -gt 0 ] || scales=(10000 100000)
secs=${SECONDS_PER_LOAD:-15}
conns=${CONNECTIONS:-32}
root=$(cd "$(dirname "$0")/.." && pwd)
base=${BENCH_TMP:-$root/build-bench/perf-tmp}
mkdir -p "$base"
tmp=$(mktemp -d "$base/run-XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
export MEDVAULT_PASSPHRASE="perf suite passphrase" MEDVAULT_TEST_FAST_KDF=1
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
rss_kib() { awk '/^VmRSS/{print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM/{print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }

# wrk scripts. Ids and name prefixes come from files written per scale; each
# wrk thread picks at random, so reads are spread over the whole vault.
cat > "$tmp/common.lua" <<'LUA'
local function lines(path)
  local t = {}
  for l in io.lines(path) do t[#t + 1] = l end
  return t
end
ids = lines(os.getenv("BENCH_IDS"))
prefixes = lines(os.getenv("BENCH_PREFIXES"))
obs = lines(os.getenv("BENCH_OBS"))
create_body = '{"resourceType":"Patient","name":[{"family":"Bench","given":["Load"]}],"gender":"other","birthDate":"1970-01-01"}'
function read_req() return wrk.format("GET", "/fhir/Patient/" .. ids[math.random(#ids)]) end
function chart_req() return wrk.format("GET", "/fhir/Observation/" .. obs[math.random(#obs)]) end
function search_req() return wrk.format("GET", "/fhir/Patient?name=" .. prefixes[math.random(#prefixes)] .. "&_count=10") end
function create_req()
  local h = {}  -- wrk.format uses the headers given instead of wrk.headers
  for k, v in pairs(wrk.headers) do h[k] = v end
  h["Content-Type"] = "application/fhir+json"
  return wrk.format("POST", "/fhir/Patient", h, create_body)
end
function init(args) math.randomseed(os.time() + math.floor(os.clock() * 1e6)) end
LUA
for kind in read chart search create; do
  printf 'package.path = "%s/?.lua;" .. package.path\nrequire("common")\nrequest = %s_req\n' "$tmp" "$kind" > "$tmp/$kind.lua"
done
cat > "$tmp/mixed.lua" <<LUA
package.path = "$tmp/?.lua;" .. package.path
require("common")
function request()
  local r = math.random()
  if r < 0.7 then return read_req() elseif r < 0.9 then return search_req() else return create_req() end
end
LUA

results=()  # scale|name|rps|p50|p99|non2xx
extras=()   # scale|measure|value
wrk_run() {  # scale name url script
  local scale=$1 name=$2 url=$3 script=$4 out rps p50 p99 bad
  out=$(BENCH_IDS="$tmp/ids" BENCH_PREFIXES="$tmp/prefixes" BENCH_OBS="$tmp/obs" \
        wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Authorization: Bearer $token" -s "$script" "$url" 2>&1) \
    || { echo "bench: wrk failed for $name: $out" >&2; return 1; }
  rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")
  p50=$(awk '$1=="50%"{print $2}' <<<"$out")
  p99=$(awk '$1=="99%"{print $2}' <<<"$out")
  bad=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' <<<"$out")
  echo "bench: $scale patients, $name: ${rps} req/s, p50 ${p50}, p99 ${p99}${bad:+, non-2xx $bad}" >&2
  results+=("$scale|$name|${rps}|${p50}|${p99}|${bad:-0}")
}

for scale in "${scales[@]}"; do
  data="$tmp/vault-$scale"
  inputs=""
  reused=""
  if [ -n "${KEEP_VAULTS:-}" ]; then
    data="$KEEP_VAULTS/$scale/vault"
    inputs="$KEEP_VAULTS/$scale/inputs"
    if [ -f "$inputs/import" ] && [ -d "$data" ]; then reused=1; fi
  fi
  if [ -n "$reused" ]; then
    cp "$inputs"/{ids,prefixes,patient.json,obs,gp} "$tmp/"
    read -r resources import_s < "$inputs/import"
    echo "bench: $scale patients: measuring the kept vault $data (imported earlier)" >&2
  else
    mkdir -p "$(dirname "$data")"
    "$bin" init --data "$data" >/dev/null
    "$bin" demo-data --patients "$scale" --seed 11 > "$tmp/demo.ndjson"
    resources=$(wc -l < "$tmp/demo.ndjson")
    t0=$(now)
    "$bin" import --data "$data" "$tmp/demo.ndjson" 2>/dev/null
    t1=$(now)
    import_s=$(python3 -c "print($t1-$t0)")
  fi
  extras+=("$scale|resources imported|$resources")
  extras+=("$scale|import (resources/s)|$(python3 -c "print(round($resources/$import_s))")${reused:+ (earlier run)}")
  extras+=("$scale|vault.db (MiB)|$(du -m "$data/vault.db" | cut -f1)")
  extras+=("$scale|audit log files (MiB)|$(du -m "$data/vault.db-audit" | cut -f1)")
  # Ids and 3-letter name prefixes of the imported patients; one Patient for
  # nginx; the GP of the most patients, and the Observations of those patients.
  [ -n "$reused" ] || python3 - "$tmp/demo.ndjson" "$tmp/ids" "$tmp/prefixes" "$tmp/patient.json" "$tmp/obs" "$tmp/gp" <<'PY'
import collections, json, sys, urllib.parse
ids, prefixes, first, gp_of = [], set(), None, {}
for line in open(sys.argv[1]):
    if '"resourceType":"Patient"' not in line:
        continue
    p = json.loads(line)
    ids.append(p["id"])
    prefixes.add(urllib.parse.quote(p["name"][0]["family"][:3]))
    first = first or line
    for ref in p.get("generalPractitioner", []):
        if ref.get("reference", "").startswith("Practitioner/"):
            gp_of[p["id"]] = ref["reference"].split("/", 1)[1]
gp = collections.Counter(gp_of.values()).most_common(1)[0][0]
mine = {pid for pid, g in gp_of.items() if g == gp}
obs = []
for line in open(sys.argv[1]):
    if '"resourceType":"Observation"' in line:
        o = json.loads(line)
        if o.get("subject", {}).get("reference", "").split("/")[-1] in mine:
            obs.append(o["id"])
open(sys.argv[2], "w").write("\n".join(ids) + "\n")
open(sys.argv[3], "w").write("\n".join(sorted(prefixes)) + "\n")
open(sys.argv[4], "w").write(first)
open(sys.argv[5], "w").write("\n".join(obs) + "\n")
open(sys.argv[6], "w").write(gp)
PY
  if [ -z "$reused" ]; then
    rm -f "$tmp/demo.ndjson"
    "$bin" user add bench --role physician --practitioner "$(cat "$tmp/gp")" --data "$data" >/dev/null
    if [ -n "$inputs" ]; then
      mkdir -p "$inputs"
      cp "$tmp"/{ids,prefixes,patient.json,obs,gp} "$inputs/"
      echo "$resources $import_s" > "$inputs/import"
    fi
  fi
  token=$("$bin" token issue --data "$data" --user bench --ttl 4h 2>/dev/null)

  # Start-up: process start to listening, passphrase unseal with the fast
  # test KDF (Argon2 excluded), audit log head and tree restored.
  t0=$(now)
  "$bin" serve --data "$data" --listen 127.0.0.1:0 2>"$tmp/serve.log" &
  spid=$!
  pids+=("$spid")
  for _ in $(seq 600); do grep -q '"listening"' "$tmp/serve.log" 2>/dev/null && break; sleep 0.02; done
  t1=$(now)
  mport=$(sed -n 's/.*"listening","port":\([0-9]*\).*/\1/p' "$tmp/serve.log" | head -1)
  extras+=("$scale|start-up to listening (s)|$(python3 -c "print(round($t1-$t0, 2))")")
  sleep 1
  extras+=("$scale|RSS at rest (MiB)|$(( $(rss_kib "$spid") / 1024 ))")

  # nginx: same certificate, TLS 1.2/1.3, the same ECDHE+AEAD suites.
  pid=$(head -1 "$tmp/ids")
  rm -rf "$tmp/www" "$tmp/nginx"
  mkdir -p "$tmp/www/fhir/Patient" "$tmp/nginx"
  chmod 755 "$tmp" "$tmp/www" "$tmp/www/fhir" "$tmp/www/fhir/Patient"
  cp "$tmp/patient.json" "$tmp/www/fhir/Patient/$pid"
  chmod 644 "$tmp/www/fhir/Patient/$pid"
  nport=$(free_port)
  cat > "$tmp/nginx/nginx.conf" <<CONF
worker_processes $(nproc);
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/fhir+json;
  keepalive_requests 1000000;
  client_body_temp_path $tmp/nginx; proxy_temp_path $tmp/nginx; fastcgi_temp_path $tmp/nginx;
  uwsgi_temp_path $tmp/nginx; scgi_temp_path $tmp/nginx;
  server {
    listen 127.0.0.1:$nport ssl;
    ssl_certificate $data/tls/cert.pem;
    ssl_certificate_key $data/tls/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305;
    ssl_prefer_server_ciphers on;
    root $tmp/www;
  }
}
CONF
  nginx -c "$tmp/nginx/nginx.conf" -g 'daemon off;' &
  npid=$!
  pids+=("$npid")
  sleep 0.5
  printf 'request = function() return wrk.format("GET", "/fhir/Patient/%s") end\n' "$pid" > "$tmp/static.lua"
  wrk_run "$scale" "nginx static Patient (ceiling)" "https://127.0.0.1:$nport" "$tmp/static.lua"
  kill "$npid"; wait "$npid" 2>/dev/null || true

  wrk_run "$scale" "read by id" "https://127.0.0.1:$mport" "$tmp/read.lua"
  wrk_run "$scale" "chart read: Observation of one's own patients" "https://127.0.0.1:$mport" "$tmp/chart.lua"
  wrk_run "$scale" "search by name prefix" "https://127.0.0.1:$mport" "$tmp/search.lua"
  wrk_run "$scale" "create Patient" "https://127.0.0.1:$mport" "$tmp/create.lua"
  wrk_run "$scale" "mixed 70/20/10" "https://127.0.0.1:$mport" "$tmp/mixed.lua"
  extras+=("$scale|RSS under load, peak (MiB)|$(( $(hwm_kib "$spid") / 1024 ))")
  kill "$spid"; wait "$spid" 2>/dev/null || true

  # The audit log now holds one entry per request above, plus the import's.
  t0=$(now)
  verify_out=$("$bin" audit verify --data "$data" 2>&1)
  t1=$(now)
  entries=$(sed -n 's/.*[^0-9]\([0-9][0-9]*\) entries.*/\1/p' <<<"$verify_out" | head -1)
  extras+=("$scale|audit entries|${entries:-?}")
  [ -n "$entries" ] && extras+=("$scale|audit verify (entries/s)|$(python3 -c "print(round($entries/($t1-$t0)))")")
  [ -n "$inputs" ] || rm -rf "$data"
done

rel_bin=$(realpath --relative-to="$root" "$bin")
python3 - "${BENCH_MD:-$root/BENCHMARKS.md}" "$secs" "$conns" "$(nproc)" "${scales[*]}" "$rel_bin" "${#results[@]}" "${results[@]}" "${extras[@]}" <<'PY'
import datetime, os, re, sys
path, secs, conns, nproc, scales, binary, n = sys.argv[1:8]
rows = [r.split("|") for r in sys.argv[8:8 + int(n)]]
extras = [r.split("|") for r in sys.argv[8 + int(n):]]
scales = scales.split()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
def ms(v):
    m = re.match(r"([0-9.]+)(us|ms|s)$", v or "")
    if not m: return None
    return float(m.group(1)) * {"us": 1e-3, "ms": 1, "s": 1e3}[m.group(2)]
lines = ["<!-- perf_suite:begin (generated by bench/perf_suite.sh) -->", "",
         f"Run {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}, {nproc} cores ({cpu}), "
         f"load average at end {os.getloadavg()[0]:.2f}; wrk -t2 -c{conns} -d{secs}s per load over TLS on "
         "loopback; every medvault request authenticated (bearer token), authorised, decrypted and "
         "audited (durable, group commit).", "",
         f"Command: `{'KEEP_VAULTS=DIR ' if os.environ.get('KEEP_VAULTS') else ''}SECONDS_PER_LOAD={secs} "
         f"bash bench/perf_suite.sh {binary} {' '.join(scales)}` "
         "(`make bench` runs it at 10,000 and 100,000 patients).", ""]
head = "| load | " + " | ".join(f"{s} patients: req/s | p50 | p99 | vs nginx" for s in scales) + " |"
lines += [head, "|---|" + "---:|---:|---:|---:|" * len(scales)]
names = list(dict.fromkeys(r[1] for r in rows))
by = {(r[0], r[1]): r for r in rows}
for name in names:
    cells = []
    for s in scales:
        r = by.get((s, name))
        ceiling = by.get((s, "nginx static Patient (ceiling)"))
        if not r:
            cells += ["-"] * 4; continue
        rps = float(r[2] or 0); c = float(ceiling[2] or 0) if ceiling else 0
        bad = f" ({r[5]} non-2xx)" if r[5] not in ("0", "") else ""
        cells += [f"{rps:,.0f}{bad}", r[3], r[4], f"{100*rps/c:.0f}%" if c else "-"]
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
lines += ["", "| measure | " + " | ".join(f"{s} patients" for s in scales) + " |",
          "|---|" + "---:|" * len(scales)]
ex = {(e[0], e[1]): e[2] for e in extras}
for m in dict.fromkeys(e[1] for e in extras):
    lines.append(f"| {m} | " + " | ".join(ex.get((s, m), "-") for s in scales) + " |")
if len(scales) >= 2:
    a, b = scales[0], scales[-1]
    lines += ["", f"From {a} to {b} patients (ratio of requests/s; the target is at least 0.67):", ""]
    for name in names:
        ra, rb = by.get((a, name)), by.get((b, name))
        if ra and rb and float(ra[2] or 0):
            lines.append(f"- {name}: {float(rb[2]) / float(ra[2]):.2f}")
lines += ["", "<!-- perf_suite:end -->"]
block = "\n".join(lines)
text = open(path).read()
if "<!-- perf_suite:begin" in text:
    text = re.sub(r"<!-- perf_suite:begin.*?<!-- perf_suite:end -->", lambda _: block, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n## Performance suite (issue 8)\n\n" + block + "\n"
open(path, "w").write(text)
PY
echo "bench: performance suite written to ${BENCH_MD:-BENCHMARKS.md}"
