#!/usr/bin/env bash
# make demo: a vault with synthetic patients in ./demo-vault, a physician
# account with an API token, and the HTTPS server on https://localhost:8443.
# The demo passphrase is for this throwaway vault only.
set -euo pipefail
bin=${1:-build/src/cli/medvault}
dir=${DEMO_DIR:-demo-vault}
export MEDVAULT_PASSPHRASE=${MEDVAULT_PASSPHRASE:-demo passphrase, not for real data}
if [ ! -f "$dir/master.seal" ]; then
  "$bin" init --data "$dir"
  "$bin" demo-data --patients "${DEMO_PATIENTS:-200}" --seed 1 > "$dir.ndjson"
  "$bin" import --data "$dir" "$dir.ndjson"
  rm -f "$dir.ndjson"
  "$bin" user add dr.martin --role physician --data "$dir"
fi
token=$("$bin" token issue --data "$dir" --user dr.martin --ttl 8h 2>/dev/null)
cat <<INFO

medvault demo vault in $dir (passphrase in MEDVAULT_PASSPHRASE for this shell only)
Try:
  curl --cacert $dir/tls/cert.pem -H "Authorization: Bearer $token" \\
       'https://localhost:8443/fhir/Patient?name=mar&_count=5'

INFO
exec "$bin" serve --data "$dir" --listen "${DEMO_LISTEN:-127.0.0.1:8443}"
