#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs everything Redcar needs to build, run and test on Debian 12.
# Idempotent; run as root (or with sudo). Used by setup.sh, test.sh and CI.
set -euo pipefail
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libsqlite3-dev sqlite3 libcjson-dev libmicrohttpd-dev libcurl4-openssl-dev check libsubunit-dev
      curl redis-server redis-tools python3 python3-redis wrk netcat-openbsd procps
      libgnutls28-dev gnutls-bin openssl
      nats-server libnats-dev
      chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm run the CloudEvents SDK, ioredis and the JSON Schema/OpenAPI checks.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The distribution's redis-server and nats-server must not hold their ports for themselves.
for svc in redis-server nats-server; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    systemctl stop "$svc" || true
  fi
done
