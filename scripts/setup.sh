#!/usr/bin/env bash
# Installs every Debian package that the build, the tests and the demo need.
# Idempotent: safe to run again; skips apt when everything is already present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  clang libclang-rt-14-dev
  libsodium-dev libssl-dev openssl libsqlite3-dev sqlite3 libpq-dev
  libboost-json1.81-dev libboost-system1.81-dev libboost-url1.81-dev
  libcli11-dev libspdlog-dev libfmt-dev
  libcbor-dev liboath-dev oathtool libqrencode-dev libpwquality-dev cracklib-runtime libicu-dev
  libgfshare-dev libzstd-dev libssh-dev openssh-server
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-cryptography python3-nacl
  testssl.sh postgresql-15 rsyslog rsyslog-gnutls
  zbar-tools librsvg2-bin
  chromium
)

# `scripts/setup.sh bench` adds the load generator and the reference server
# that `make bench` compares against (not needed by the tests).
if [ "${1:-}" = bench ]; then PACKAGES+=(wrk nginx-light restic); fi

# Node.js and npm come with the machine image on CI; install Debian's only if absent.
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
