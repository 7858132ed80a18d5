#!/usr/bin/env bash
# PostgreSQL load benchmark (issue 9): one throwaway PostgreSQL 15 cluster,
# two `medvault serve --store URL` nodes on it, the read and mixed loads of
# bench/http_load.sh against both nodes at once (one wrk per node; figures
# summed), and pgbench (TPC-B-like and select-only) on the same cluster in
# the same run, for the database's own ceiling on this machine. Prints a
# Markdown table; the figures in BENCHMARKS.md ("PostgreSQL: two nodes") are
# copied from it by hand.
#
#   bash bench/pg_load.sh MEDVAULT_BINARY [SECONDS] [PATIENTS]
set -euo pipefail
bin=$(realpath "${1:?usage: bash bench/pg_load.sh MEDVAULT_BINARY [SECONDS] [PATIENTS]}")
secs=${2:-10}
patients=${3:-20}
pgbin=/usr/lib/postgresql/15/bin
tmp=$(mktemp -d /tmp/mv-pgbench-XXXXXX)
chmod 755 "$tmp"
pids=()
# PostgreSQL refuses to run as root: its programs run as the postgres user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -f "$tmp/pg/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" stop -m fast -w -D "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# The cluster: fsync on, as in production; loopback only.
mkdir "$tmp/pg" && [ "$(id -u)" = 0 ] && chown postgres:postgres "$tmp/pg"
as_pg "$pgbin/initdb" -D "$tmp/pg" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
pgport=$(free_port)
cat >> "$tmp/pg/postgresql.auto.conf" <<CONF
port = $pgport
listen_addresses = '127.0.0.1'
unix_socket_directories = '$tmp/pg'
fsync = on
shared_buffers = '128MB'
max_connections = 200
CONF
as_pg "$pgbin/pg_ctl" start -w -D "$tmp/pg" -l "$tmp/pg/server.log" >/dev/null
url="postgresql://postgres@127.0.0.1:$pgport/postgres"

export MEDVAULT_PASSPHRASE="pg bench passphrase" MEDVAULT_TEST_FAST_KDF=1
"$bin" init --store "$url" --data "$tmp/node1" >/dev/null
# A second node needs only TLS material: the same certificate (one name
# behind a load balancer); everything else it reads from the database.
mkdir -p "$tmp/node2" && cp -a "$tmp/node1/tls" "$tmp/node2/"
"$bin" demo-data --patients "$patients" --seed 3 > "$tmp/demo.ndjson"
"$bin" import --store "$url" "$tmp/demo.ndjson" 2>/dev/null
"$bin" user add bench --role physician --store "$url" >/dev/null
token=$("$bin" token issue --store "$url" --user bench --ttl 1h 2>/dev/null)
"$bin" export --store "$url" > "$tmp/export.ndjson"
grep -m1 '"resourceType":"Patient"' "$tmp/export.ndjson" > "$tmp/patient.json"
pid=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["id"])' "$tmp/patient.json")
prefix=$(python3 -c 'import json,sys,urllib.parse;print(urllib.parse.quote(json.load(open(sys.argv[1]))["name"][0]["family"][:3]))' "$tmp/patient.json")

ports=()
for n in 1 2; do
  "$bin" serve --store "$url" --data "$tmp/node$n" --listen 127.0.0.1:0 --threads "${MEDVAULT_THREADS:-0}" 2>"$tmp/serve$n.log" &
  pids+=($!)
  for _ in $(seq 200); do grep -q '"listening"' "$tmp/serve$n.log" 2>/dev/null && break; sleep 0.1; done
  ports+=("$(sed -n 's/.*"listening","port":\([0-9]*\).*/\1/p' "$tmp/serve$n.log" | head -1)")
done

# Mixed: 90 % reads by id, 10 % creates, on each connection.
cat > "$tmp/mixed.lua" <<LUA
local create = '{"resourceType":"Patient","name":[{"family":"Bench","given":["Mixed"]}],"gender":"other","birthDate":"1970-01-01"}'
local post = {}  -- wrk.format replaces wrk.headers (the token) by the table given
init = function()
  for k, v in pairs(wrk.headers) do post[k] = v end
  post["Content-Type"] = "application/fhir+json"
end
request = function()
  if math.random(10) == 1 then
    return wrk.format("POST", "/fhir/Patient", post, create)
  end
  return wrk.format("GET", "/fhir/Patient/$pid")
end
LUA

rows=()
run() {  # name path [extra wrk args]: wrk -t1 -c16 against each node at once
  local name=$1 path=$2; shift 2
  local n
  for n in 0 1; do
    wrk -t1 -c16 -d"${secs}s" --latency -H "Authorization: Bearer $token" "$@" \
      "https://127.0.0.1:${ports[$n]}$path" > "$tmp/wrk$n.out" 2>&1 &
  done
  wait %- %+ 2>/dev/null || wait
  local total=0 detail=""
  for n in 0 1; do
    local out rps p50 p99 bad
    out=$(cat "$tmp/wrk$n.out")
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")
    [ -n "$rps" ] || { echo "bench: wrk failed for $name: $out" >&2; return 1; }
    p50=$(awk '$1=="50%"{print $2}' <<<"$out"); p99=$(awk '$1=="99%"{print $2}' <<<"$out")
    bad=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' <<<"$out")
    total=$(python3 -c "print($total + $rps)")
    detail+=" | $(printf '%.0f' "$rps") | $p50 | $p99 | ${bad:-0}"
  done
  echo "bench: $name: $(printf '%.0f' "$total") req/s over both nodes" >&2
  rows+=("| $name | $(printf '%.0f' "$total")$detail |")
}
run "read by id" "/fhir/Patient/$pid"
run "search name=<3 letters>" "/fhir/Patient?name=$prefix&_count=10"
run "mixed 90 % read / 10 % create" "/fhir/Patient" -s "$tmp/mixed.lua"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
wait 2>/dev/null || true
pids=()

# pgbench on the same cluster, its own database, 32 clients like the nodes.
as_pg "$pgbin/psql" -X -q -h 127.0.0.1 -p "$pgport" -U postgres -c "CREATE DATABASE pgbench" >/dev/null
pgb() { as_pg "$pgbin/pgbench" -h 127.0.0.1 -p "$pgport" -U postgres "$@" pgbench 2>&1; }
pgb -i -s 10 -q >/dev/null
tps() { sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$1" | head -1; }
lat() { sed -n 's/^latency average = \([0-9.]* ms\).*/\1/p' <<<"$1"; }
tpcb=$(pgb -c 32 -j 2 -T "$secs" -n)
sel=$(pgb -c 32 -j 2 -T "$secs" -n -S)
echo "bench: pgbench TPC-B-like $(tps "$tpcb") tps, select-only $(tps "$sel") tps" >&2

echo "Run $(date -Iseconds), $(nproc) cores, load average at end $(cut -d' ' -f1 /proc/loadavg);" \
     "$patients demo patients ($(wc -l < "$tmp/export.ndjson") resources); wrk -t1 -c16 -d${secs}s per node over TLS."
echo
echo "| load (two nodes) | total req/s | node 1 req/s | p50 | p99 | non-2xx | node 2 req/s | p50 | p99 | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "| pgbench (same cluster, scale 10, 32 clients, ${secs}s) | tps | latency average |"
echo "|---|---:|---:|"
echo "| TPC-B-like (read-write) | $(printf '%.0f' "$(tps "$tpcb")") | $(lat "$tpcb") |"
echo "| select-only (-S) | $(printf '%.0f' "$(tps "$sel")") | $(lat "$sel") |"
