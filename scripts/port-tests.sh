#!/usr/bin/env bash
# Runs the port-layer (DPDK) integration tests: net_ring loopback, two-process net_memif, the
# kernel as a peer over net_af_packet/veth, and two-queue flow spreading. No NIC or hugepages
# needed (--no-huge --no-pci). The veth/netns tests need root; without it they print SKIPPED,
# or fail when CI=true (or CI=1) is set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo test -p tcpterm --release --test 'port_*' -- --nocapture "$@" 2>&1
