#!/usr/bin/env bash
# Installs everything a fresh Debian machine needs to build and test tcpterm. Idempotent:
# packages already installed are not touched, and apt is not called at all when none is missing.
#   dpdk, libdpdk-dev      DPDK 22.11 shared libraries, PMD plugins, headers, libdpdk.pc
#   pkg-config             finds DPDK for dpdk-sys/build.rs
#   libclang1-14, libclang-common-14-dev   libclang for bindgen (runtime-loaded) and its headers
#   iproute2, ethtool, bash   the kernel-peer tests (netns, veth, offloads, /dev/udp)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
# Integration-test peers and tools (scripts/itest): the Linux TCP clients (curl, wrk, ab from
# apache2-utils, socat, python3), loss injection (nftables), nginx-light for the kernel
# baseline benchmark (scripts/bench/vs-nginx.sh, synflood.sh), linux-perf for the profile in
# scripts/bench/synflood.sh.
for p in pkg-config dpdk libdpdk-dev libclang1-14 libclang-common-14-dev iproute2 ethtool \
  curl wrk apache2-utils socat nftables nginx-light python3 linux-perf; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
