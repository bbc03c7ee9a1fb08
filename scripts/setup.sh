#!/usr/bin/env bash
# Installs everything a fresh Debian 12 machine (even a minbase one that has only a Rust
# toolchain) needs to build and test tcpterm. Run as root. Idempotent: packages already
# installed are not touched, and apt is not called at all when none is missing.
#   gcc, libc6-dev          the C toolchain: rustc links through `cc`, and build scripts compile
#                           C (dpdk-sys's shim for DPDK's static inline functions, mimalloc)
#   pkg-config              finds DPDK for dpdk-sys/build.rs
#   dpdk, libdpdk-dev       DPDK 22.11 shared libraries, PMD plugins, headers, libdpdk.pc
#   libclang1-14, libclang-common-14-dev   libclang for bindgen (loaded at run time) and the
#                           compiler headers (stddef.h, ...) it parses DPDK's headers with
#   ca-certificates         cargo fetches crates from crates.io over HTTPS
#   iproute2, ethtool, procps   the kernel-peer tests (netns, veth, offloads, sysctl)
#   netbase                 /etc/services: wrk resolves the `http` of a URL without a port
#                           through it (minbase lacks it; seen in a minbase chroot)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
need=()
# Integration-test peers and tools (scripts/itest): the Linux TCP clients (curl, wrk, ab from
# apache2-utils, socat, python3), loss injection (nftables), nginx-light for the kernel
# baseline benchmark (scripts/bench/vs-nginx.sh, synflood.sh), linux-perf for the profile in
# scripts/bench/synflood.sh.
for p in gcc libc6-dev pkg-config dpdk libdpdk-dev libclang1-14 libclang-common-14-dev \
  ca-certificates iproute2 ethtool procps netbase \
  curl wrk apache2-utils socat nftables nginx-light python3 linux-perf; do
  # Installed means "ii": `dpkg -s` also succeeds for a package removed with its config kept.
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)" = "ii " ] || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
