#!/usr/bin/env bash
# Port-layer overhead: tcpterm's macswap reflector (server/examples/macswap.rs) against
# `dpdk-testpmd --forward-mode=macswap`, each reflecting a testpmd flowgen generator over the
# same net_memif wire. Generator on core 1, reflector on core 0. The figure for both is the
# generator's received packets/s (the echoed rate), median of the steady-state seconds.
#
#   scripts/bench/macswap.sh [SECONDS]      (default 6 s per reflector)
#
# Brief on purpose: the machine has 2 cores; other load skews the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-6}
GEN_CORE=${GEN_CORE:-1}
REFL_CORE=${REFL_CORE:-0}
bash scripts/setup.sh >/dev/null
# dpdk-testpmd ships in Debian's dpdk-dev (needed only for this benchmark).
if ! dpkg -s dpdk-dev >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpdk-dev >/dev/null
fi
cargo build --release -q -p tcpterm --example macswap
MACSWAP=target/release/examples/macswap
TMP=$(mktemp -d /tmp/tcpterm-bench.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$TMP"' EXIT; echo "logs: $TMP"
SOCK=$TMP/memif.sock
EAL_COMMON=(--no-huge --no-pci -m 512)

# The generator: flowgen sends 64-byte UDP frames of varying flows and counts what comes back.
start_gen() { # $1: log file
  timeout -s INT $((SECS + 14)) dpdk-testpmd --lcores "0@$GEN_CORE,1@$GEN_CORE" "${EAL_COMMON[@]}" \
    --file-prefix tt-gen-$$ --vdev "net_memif0,role=server,socket=$SOCK,socket-abstract=no" \
    -- --forward-mode=flowgen --stats-period 1 --total-num-mbufs=32768 --burst=32 \
    --txd=1024 --rxd=1024 >"$1" 2>&1 &
  GEN_PID=$!
  sleep 3 # EAL loads every PMD plugin at start
}

stop_gen() {
  kill -INT "$GEN_PID" 2>/dev/null || true
  wait "$GEN_PID" 2>/dev/null || true
}

# Median Rx-pps of the generator over the seconds the reflector was running (nonzero samples,
# first and last dropped as partial).
median_rx_pps() {
  grep -a 'Rx-pps:' "$1" | awk '{print $2}' | awk '$1 > 0' | sed '1d;$d' | sort -n |
    awk '{a[NR]=$1} END {if (NR==0) print 0; else print a[int((NR+1)/2)]}'
}

echo "== A: tcpterm macswap (port layer) on core $REFL_CORE, testpmd flowgen on core $GEN_CORE, ${SECS}s"
start_gen "$TMP/gen-a.log"
"$MACSWAP" -l "$REFL_CORE" "${EAL_COMMON[@]}" --file-prefix tt-refl-$$ \
  --vdev "net_memif0,role=client,socket=$SOCK,socket-abstract=no" -- --seconds "$SECS" \
  >"$TMP/refl-a.log" 2>"$TMP/refl-a.err" || { cat "$TMP/refl-a.err"; exit 1; }
stop_gen
A=$(median_rx_pps "$TMP/gen-a.log")
echo "   reflector says: $(grep 'macswap: rx' "$TMP/refl-a.log")"
echo "   generator Rx-pps (median): $A"

echo "== B: dpdk-testpmd --forward-mode=macswap on core $REFL_CORE, testpmd flowgen on core $GEN_CORE, ${SECS}s"
start_gen "$TMP/gen-b.log"
# testpmd spends ~3 s starting (EAL loads every PMD plugin) inside its timeout; the median
# below only counts seconds with traffic.
timeout -s INT $((SECS + 4)) dpdk-testpmd --lcores "0@$REFL_CORE,1@$REFL_CORE" "${EAL_COMMON[@]}" \
  --file-prefix tt-refl-$$ --vdev "net_memif0,role=client,socket=$SOCK,socket-abstract=no" \
  -- --forward-mode=macswap --stats-period 1 --total-num-mbufs=32768 --burst=32 \
  --txd=1024 --rxd=1024 \
  >"$TMP/refl-b.log" 2>&1 || true
stop_gen
B=$(median_rx_pps "$TMP/gen-b.log")
echo "   reflector says: $(grep -a -A2 'Accumulated forward statistics' "$TMP/refl-b.log" | grep -a TX-packets | xargs)"
echo "   generator Rx-pps (median): $B"

awk -v a="$A" -v b="$B" 'BEGIN {
  printf "macswap pps: tcpterm %d, testpmd %d, ratio %.1f%%\n", a, b, (b > 0 ? 100 * a / b : 0) }'
echo "(load average: $(cut -d' ' -f1-3 /proc/loadavg); other processes on these 2 cores skew results)"
