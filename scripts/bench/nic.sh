#!/usr/bin/env bash
# The benchmark suite on real hardware: the generator on one NIC port, the server on another,
# the two ports cabled to each other (or through a switch). Same steps, same code as
# scripts/bench/run.sh: only the EAL arguments differ (-a PCI with hugepages instead of a
# net_memif vdev), and the ceiling is testpmd's io forwarding instead of macswap.
#
#   scripts/bench/nic.sh [run.sh options: --quick, --steps, --out] GEN_PCI SRV_PCI
#   e.g. SRV_CORE=2 GEN_CORE=4 scripts/bench/nic.sh 0000:3b:00.0 0000:3b:00.1
#
# Before running (as root; see BENCHMARKS.md):
#   - hugepages: echo 2048 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
#     (and /dev/hugepages mounted, which systemd does by default);
#   - both ports bound to vfio-pci: modprobe vfio-pci;
#     dpdk-devbind.py --bind=vfio-pci 0000:3b:00.0 0000:3b:00.1  (the IOMMU on, or
#     echo 1 > /sys/module/vfio/parameters/enable_unsafe_noiommu_mode);
#   - SRV_CORE and GEN_CORE on the NICs' NUMA node, two different physical cores.
#
# NOT RUN ON HARDWARE YET: it was written and checked on a machine without NICs, where the memif
# path of run.sh (which shares every step) was run.
set -euo pipefail
cd "$(dirname "$0")/../.."
pass=()
devs=()
while [ $# -gt 0 ]; do
  case $1 in
  --quick) pass+=("$1") ;;
  --steps | --out) pass+=("$1" "$2"); shift ;;
  -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
  -*) echo "nic.sh: unknown option $1" >&2; exit 2 ;;
  *) devs+=("$1") ;;
  esac
  shift
done
if [ ${#devs[@]} -ne 2 ]; then
  echo "usage: scripts/bench/nic.sh [--quick] [--steps LIST] [--out DIR] GEN_PCI SRV_PCI" >&2
  exit 2
fi
GEN_DEV=${devs[0]} SRV_DEV=${devs[1]}

fail() { echo "nic.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (DPDK maps the devices and hugepages)"
pci_re='^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$'
for d in "$GEN_DEV" "$SRV_DEV"; do
  [[ $d =~ $pci_re ]] || fail "$d is not a PCI address (e.g. 0000:3b:00.0; see dpdk-devbind.py --status)"
  full=$d
  [[ $d == ????:* ]] || full=0000:$d
  [ -e "/sys/bus/pci/devices/$full" ] || fail "no PCI device $d"
  drv=$(basename "$(readlink "/sys/bus/pci/devices/$full/driver" 2>/dev/null)" 2>/dev/null || true)
  case $drv in
  vfio-pci | uio_pci_generic | igb_uio) ;;
  mlx5_core) ;; # Mellanox ports stay on their kernel driver (bifurcated)
  *) fail "$d is bound to '${drv:-nothing}': bind it with dpdk-devbind.py --bind=vfio-pci $d" ;;
  esac
done
[ "$GEN_DEV" != "$SRV_DEV" ] || fail "the generator and the server need different ports"
huge=$(awk '/^HugePages_Free:/ {print $2}' /proc/meminfo)
[ "${huge:-0}" -gt 0 ] ||
  fail "no free hugepages: echo 2048 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"

exec scripts/bench/run.sh "${pass[@]}" --wire nic --gen-dev "$GEN_DEV" --srv-dev "$SRV_DEV"
