#!/usr/bin/env bash
# Installs everything a fresh Debian machine needs to build and test tcpterm. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
for p in pkg-config; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
