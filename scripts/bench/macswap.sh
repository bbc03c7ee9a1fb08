#!/usr/bin/env bash
# Port-layer overhead: tcpterm's macswap reflector (server/examples/macswap.rs) against
# `dpdk-testpmd --forward-mode=macswap`, each reflecting a testpmd flowgen generator over the
# same net_memif wire. Generator on core 1, reflector on core 0. The figure for both is the
# generator's received packets/s (the echoed rate): the median of its per-second samples
# while the reflector runs, then the median over ROUNDS alternating A/B rounds.
#
#   scripts/bench/macswap.sh [SECONDS]   (default 4 s per reflector per round)
#   env: ROUNDS (3), NICE (-15: both sides run at raised priority so that other processes on
#        these 2 shared cores disturb them less; set NICE=0 to disable), KEEP=1 keeps the logs.
#
# Brief on purpose: the machine has 2 cores; other load still skews the figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-4}
ROUNDS=${ROUNDS:-3}
NICE=${NICE:--15}
# Linux autogroups schedule each session as one unit, so plain `nice` does nothing against
# processes of other sessions: run in a session of our own and raise that group's priority.
if [ "$NICE" != 0 ] && [ -z "${TT_BENCH_INNER:-}" ] && [ -e /proc/self/autogroup ]; then
  export NICE TT_BENCH_INNER=1
  exec setsid -w bash -c 'echo "$NICE" >/proc/self/autogroup 2>/dev/null || true; exec bash "$0" "$@"' \
    "$0" "$@"
fi
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
cleanup() {
  # EAL leaves its runtime directories behind.
  rm -rf "/var/run/dpdk/tt-gen-$$" "/var/run/dpdk/tt-refl-$$"
  [ -n "${KEEP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && echo "logs: $TMP"
SOCK=$TMP/memif.sock
EAL_COMMON=(--no-huge --no-pci -m 512)
RUN=(nice -n "$NICE")

# The generator: flowgen sends 64-byte UDP frames of varying flows and counts what comes back.
start_gen() { # $1: log file
  "${RUN[@]}" timeout -s INT $((SECS + 14)) dpdk-testpmd --lcores "0@$GEN_CORE,1@$GEN_CORE" \
    "${EAL_COMMON[@]}" --file-prefix tt-gen-$$ \
    --vdev "net_memif0,role=server,socket=$SOCK,socket-abstract=no" \
    -- --forward-mode=flowgen --stats-period 1 --total-num-mbufs=32768 --burst=32 \
    --txd=1024 --rxd=1024 >"$1" 2>&1 &
  GEN_PID=$!
  sleep 3 # EAL loads every PMD plugin at start
}

stop_gen() {
  kill -INT "$GEN_PID" 2>/dev/null || true
  wait "$GEN_PID" 2>/dev/null || true
}

# Median of per-second samples taken while traffic flowed: zero samples (before the reflector
# connects; memif also zeroes its counters on disconnect) and the first, partial, one dropped.
steady_median() {
  awk '$1 > 0' | sed '1d' | median
}

median() {
  sort -n | awk '{a[NR]=$1} END {if (NR==0) print 0; else print a[int((NR+1)/2)]}'
}

run_a() { # tcpterm macswap
  start_gen "$TMP/gen-a$1.log"
  "${RUN[@]}" "$MACSWAP" -l "$REFL_CORE" "${EAL_COMMON[@]}" --file-prefix tt-refl-$$ \
    --vdev "net_memif0,role=client,socket=$SOCK,socket-abstract=no" -- --seconds "$SECS" \
    >"$TMP/refl-a$1.log" 2>"$TMP/refl-a$1.err" || { cat "$TMP/refl-a$1.err"; exit 1; }
  stop_gen
  grep -a 'Rx-pps:' "$TMP/gen-a$1.log" | awk '{print $2}' | steady_median >>"$TMP/a.txt"
  grep -a '^macswap: [0-9]* pps' "$TMP/refl-a$1.err" | awk '{print $2}' | steady_median \
    >>"$TMP/ar.txt"
  echo "  round $1 A tcpterm macswap: generator Rx-pps $(tail -1 "$TMP/a.txt")," \
    "reflector Tx-pps $(tail -1 "$TMP/ar.txt")"
  echo "    $(grep 'macswap: rx' "$TMP/refl-a$1.log" | cut -d';' -f2-)"
}

run_b() { # dpdk-testpmd macswap
  start_gen "$TMP/gen-b$1.log"
  # testpmd spends ~3 s starting inside its timeout; the median only counts seconds with traffic.
  "${RUN[@]}" timeout -s INT $((SECS + 4)) dpdk-testpmd --lcores "0@$REFL_CORE,1@$REFL_CORE" \
    "${EAL_COMMON[@]}" --file-prefix tt-refl-$$ \
    --vdev "net_memif0,role=client,socket=$SOCK,socket-abstract=no" \
    -- --forward-mode=macswap --stats-period 1 --total-num-mbufs=32768 --burst=32 \
    --txd=1024 --rxd=1024 >"$TMP/refl-b$1.log" 2>&1 || true
  stop_gen
  grep -a 'Rx-pps:' "$TMP/gen-b$1.log" | awk '{print $2}' | steady_median >>"$TMP/b.txt"
  grep -a 'Tx-pps:' "$TMP/refl-b$1.log" | awk '{print $2}' | steady_median >>"$TMP/br.txt"
  echo "  round $1 B testpmd macswap: generator Rx-pps $(tail -1 "$TMP/b.txt")," \
    "reflector Tx-pps $(tail -1 "$TMP/br.txt")"
}

echo "macswap over net_memif, 64 B frames, generator testpmd flowgen on core $GEN_CORE," \
  "reflector on core $REFL_CORE, ${SECS}s x $ROUNDS rounds, nice $NICE" \
  "($(cat /proc/self/autogroup 2>/dev/null))"
for r in $(seq 1 "$ROUNDS"); do
  run_a "$r"
  run_b "$r"
done
report() { # $1 label, $2 tcpterm file, $3 testpmd file
  awk -v l="$1" -v a="$(median <"$2")" -v b="$(median <"$3")" 'BEGIN {
    printf "%s: tcpterm %d pps, testpmd %d pps, ratio %.1f%%\n", l, a, b, (b > 0 ? 100 * a / b : 0) }'
}
report "echoed rate seen by the generator (median of rounds)" "$TMP/a.txt" "$TMP/b.txt"
report "forwarded rate seen by the reflector (median of rounds)" "$TMP/ar.txt" "$TMP/br.txt"
echo "(load average: $(cut -d' ' -f1-3 /proc/loadavg); other processes on these 2 cores skew results)"
