#!/usr/bin/env bash
# Installs everything a fresh Debian machine needs to build and test tcpterm. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
# Build: pkg-config. Integration-test peers and tools: the Linux TCP clients (curl, wrk, ab,
# socat, python3), loss injection (nftables), topology (iproute2, ethtool), nginx-light for
# the kernel baseline benchmark.
for p in pkg-config curl wrk apache2-utils socat nftables nginx-light iproute2 ethtool python3; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
