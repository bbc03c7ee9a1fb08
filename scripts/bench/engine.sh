#!/usr/bin/env bash
# Engine benchmarks: short transactions (engine and kernel loopback), per-segment cost and
# micro-benches, and heap / peak RSS per connection and per TIME_WAIT entry. Prints a summary at
# the end, read from criterion's JSON estimates (target/criterion/<group>/<bench>/new/): the
# median time per iteration with its 95% confidence interval, for every benchmark each bench
# target defines; one that wrote no estimates in this run fails the script.
#
# Usage: scripts/bench/engine.sh [--quick] [N_CONNS]
#   --quick   shorter criterion runs (1 s warm-up, 3 s measurement)
#   N_CONNS   connections for the memory probe (default 100000)
# Environment: WARMUP / MEASURE (seconds) override the criterion times.
#   TCPTERM_BENCH_CLOCK=cpu  time engine benches with the thread's CPU time (loaded machines)
#   BOOST=1                  run in a session of its own with autogroup nice -15 (root), so
#                            other sessions' builds take less of the CPU from the benches
set -euo pipefail
if [[ "${BOOST:-0}" == 1 && -z "${_ENGINE_SH_BOOSTED:-}" ]]; then
    export _ENGINE_SH_BOOSTED=1
    exec setsid -w bash -c 'echo -15 > /proc/self/autogroup 2>/dev/null || echo "BOOST: cannot set autogroup nice" >&2; exec "$0" "$@"' "$0" "$@"
fi
cd "$(dirname "$0")/../.."
source scripts/bench/lib/criterion.sh
command -v jq >/dev/null || { echo "engine.sh needs jq (scripts/setup.sh installs it)" >&2; exit 1; }

WARMUP=${WARMUP:-2}
MEASURE=${MEASURE:-5}
if [[ "${1:-}" == "--quick" ]]; then
    WARMUP=1
    MEASURE=3
    shift
fi
N_CONNS=${1:-100000}

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
CRIT=(--warm-up-time "$WARMUP" --measurement-time "$MEASURE" --noplot)
BENCHES=(short_txn kernel_txn segment)

echo "== building (release, bench profile)"
cargo bench -p tcpterm-benches --no-run -q 2>&1 | grep -v '^$' || true
cargo build -p tcpterm-benches --release --bin conn_memory -q

# Estimates older than this file are from an earlier run and do not count.
touch "$OUT/stamp"
sleep 1
for b in "${BENCHES[@]}"; do
    crit_list "$b" >"$OUT/$b.ids"
    echo "== cargo bench -p tcpterm-benches --bench $b -- ${CRIT[*]}"
    cargo bench -p tcpterm-benches --bench "$b" -q -- "${CRIT[@]}" 2>&1 | tee "$OUT/$b.txt"
done

echo "== target/release/conn_memory $N_CONNS"
./target/release/conn_memory "$N_CONNS" | tee "$OUT/memory.txt"

# "id|lo|median|hi|elements|bytes" (ns per iteration) -> one summary line.
format_rows() {
    awk -F'|' '
        function t(ns) { return ns >= 1e6 ? sprintf("%.3g ms", ns / 1e6) : ns >= 1e3 ? sprintf("%.4g µs", ns / 1e3) : sprintf("%.4g ns", ns) }
        function r(x) { return x >= 1e6 ? sprintf("%.4gM", x / 1e6) : x >= 1e3 ? sprintf("%.4gk", x / 1e3) : sprintf("%.4g", x) }
        {
            line = sprintf("  %-52s %10s [%s .. %s]", $1, t($3), t($2), t($4))
            if ($6 > 0) line = line sprintf("  %.4g GiB/s [%.4g .. %.4g]", $6 / $3 * 1e9 / 2^30, $6 / $4 * 1e9 / 2^30, $6 / $2 * 1e9 / 2^30)
            else if ($5 > 0) {
                line = line sprintf("  %s/s [%s .. %s]", r($5 / $3 * 1e9), r($5 / $4 * 1e9), r($5 / $2 * 1e9))
                if ($5 > 1) line = line sprintf("  (%s per element)", t($3 / $5))
            }
            print line
        }'
}

echo
echo "================ summary ================"
echo "clock: ${TCPTERM_BENCH_CLOCK:-wall} (TCPTERM_BENCH_CLOCK=cpu times with this thread's CPU time)"
echo "autogroup: $(cat /proc/self/autogroup 2>/dev/null || echo n/a)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load avg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- stack benches 2>/dev/null || echo ' (with local changes)')"
echo "criterion: median time per iteration [95% confidence interval], then throughput [interval],"
echo "  from $(crit_dir)/<group>/<bench>/new/estimates.json (warm-up ${WARMUP}s, measurement ${MEASURE}s)"
for b in "${BENCHES[@]}"; do
    echo "-- $b"
    mapfile -t ids <"$OUT/$b.ids"
    # A failure here (an id without fresh estimates) ends the script non-zero.
    rows=$(crit_rows "$OUT/stamp" "${ids[@]}")
    format_rows <<<"$rows"
done
echo "-- memory (conn_memory N=$N_CONNS)"
grep -E 'growth/N|TIME_WAIT|size_of|slot_size|VmHWM' "$OUT/memory.txt" | sed 's/^/  /'
echo "targets: short_txn >= 1,000,000/s; segment <= 100 ns; heap <= 512 B per idle ESTABLISHED;" \
    "<= 64 B per TIME_WAIT (peak RSS per connection is a separate figure: run.sh step 5)"
