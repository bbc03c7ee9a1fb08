#!/usr/bin/env bash
# Loss recovery, tcpterm vs the Linux kernel as the echo server, in the same topology and with
# the same nftables loss (scripts/itest/lib.sh: two namespaces joined by a veth pair, the client
# socat in one at 198.18.0.2 behind a bridge whose input/output hooks drop frames at random):
#   - tcpterm: `tcpterm serve --listen 7=echo` on the server's veth end (net_af_packet, the
#     kernel holds no address there);
#   - linux:   the kernel takes 198.18.0.1 on the same veth end and socat echoes
#     (`socat TCP-LISTEN:7 PIPE`).
# Each round: the client sends MB MiB of random bytes (socat, then half-close) and reads the echo
# back; the echo must be byte-exact (sha256). Rounds alternate tcpterm, linux, tcpterm, linux...
# For each run (loss rate and direction) it reports time, RTOs and segments resent, as
# min/median/max over rounds and the ratio of the medians tcpterm/linux:
#   tcpterm: TCPTimeouts and RetransSegs from `tcpterm stat --json` (a fresh server per round);
#   linux:   TcpExtTCPTimeouts and TcpRetransSegs from `nstat -az` in the server's namespace
#            (deltas over the round; the client's namespace is not counted for either).
# Neither side has a resent-bytes counter (nstat has none), so resends are counted in segments.
#
#   scripts/bench/loss.sh [--out DIR]        (root; run cargo build --release -p tcpterm first)
# Knobs: MB=50 ROUNDS=3 RUNS="1:both 3:both 5:both 3:to-peer" (PCT:DIR, DIR as loss_on takes it:
#        both | to-peer = server -> client only | from-peer), SRV_CORE=1 CLI_CORE=0,
#        CLIENT_TIMEOUT=900 (seconds per transfer), NICE=-15 (autogroup priority of the run),
#        CC=cubic (the Linux server's congestion control, set with TCP_CONGESTION on its socket,
#        which root may do for any available one; default: the namespace's, which new
#        namespaces take from the host; the client keeps the namespace's for both servers),
#        TT_CC=cubic (tcpterm's --cc: cubic, bbr or newreno; CC=bbr TT_CC=bbr or CC=cubic
#        TT_CC=cubic compares like with like).
# Output: a table on stdout, and --out DIR (default bench/results/<UTC date>-loss) with results.md,
# rounds.tsv (one line per round) and the raw per-round logs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
NICE=${NICE:--15}
source "$here/lib/autogroup.sh"
own_autogroup "$0" "$@"
source "$here/../itest/lib.sh"

MB=${MB:-50}
ROUNDS=${ROUNDS:-3}
RUNS=${RUNS:-"1:both 3:both 5:both 3:to-peer"}
SRV_CORE=${SRV_CORE:-1}
CLI_CORE=${CLI_CORE:-0}
CLIENT_TIMEOUT=${CLIENT_TIMEOUT:-900}
CC=${CC:-}
TT_CC=${TT_CC:-cubic}
[[ "$TT_CC" =~ ^(cubic|bbr|newreno)$ ]] || { echo "TT_CC must be cubic, bbr or newreno, not '$TT_CC'" >&2; exit 1; }
OUT=""
if [ "${1:-}" = "--out" ]; then
  OUT=${2:?--out needs a directory}
fi
[ -n "$OUT" ] || OUT="$ITEST_ROOT/bench/results/$(date -u +%Y-%m-%d)-loss"

[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
[ -x "$TCPTERM" ] || { echo "no $TCPTERM: cargo build --release -p tcpterm --bin tcpterm first" >&2; exit 1; }
for c in socat nft nstat ss python3 sha256sum taskset; do
  command -v "$c" >/dev/null || { echo "$c is not installed: bash scripts/setup.sh" >&2; exit 1; }
done
[[ "$MB" =~ ^[1-9][0-9]*$ ]] || { echo "MB must be a positive integer, not '$MB'" >&2; exit 1; }
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "ROUNDS must be a positive integer, not '$ROUNDS'" >&2; exit 1; }
for run in $RUNS; do
  [[ "$run" =~ ^[0-9]+:(both|to-peer|from-peer)$ ]] ||
    { echo "RUNS: '$run' is not PCT:both|to-peer|from-peer" >&2; exit 1; }
done
mkdir -p "$OUT"
RAW="$OUT/raw"
mkdir -p "$RAW"

SOCAT_PID=""
LINUX_CC="?"
INPUT=$(mktemp /tmp/tcpterm-loss-in.XXXXXX)
cleanup() {
  # Cleanup runs to the end whatever fails on the way.
  set +e
  rm -f "$INPUT"
  if [ -n "$SOCAT_PID" ]; then
    kill -TERM "$SOCAT_PID" 2>/dev/null || true
    wait "$SOCAT_PID" 2>/dev/null || true
  fi
  topo_down
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# nstat_get NAME...: absolute counter values in the server's namespace, one per line.
nstat_get() {
  local out n
  out=$(in_s nstat -asz)
  for n in "$@"; do
    awk -v n="$n" '$1 == n { print $2; f = 1 } END { if (!f) exit 1 }' <<<"$out" ||
      { echo "nstat has no $n" >&2; return 1; }
  done
}

# transfer TAG: the client's echo round trip; sets SECS. Fails loudly unless byte-exact.
transfer() {
  local tag=$1 t0 t1 rc=0
  t0=$(date +%s.%N)
  in_c taskset -c "$CLI_CORE" timeout "$CLIENT_TIMEOUT" socat -b 65536 -t 60 - "TCP:$SRV_IP:7" \
    <"$INPUT" >"$ITEST_TMP/out" 2>"$RAW/$tag.client.err" || rc=$?
  t1=$(date +%s.%N)
  SECS=$(python3 -c "print(f'{$t1 - $t0:.3f}')")
  local got
  got=$(sha256sum <"$ITEST_TMP/out" | cut -d' ' -f1)
  if [ "$rc" != 0 ] || [ "$got" != "$WANT" ]; then
    echo "$tag: client exit $rc, $(stat -c %s "$ITEST_TMP/out") of $((MB << 20)) bytes back, sha256 ${got:0:12} want ${WANT:0:12}" >&2
    sed 's/^/    /' "$RAW/$tag.client.err" >&2
    return 1
  fi
}

round_tcpterm() {
  local tag=$1
  tcpterm_start 1 "$SRV_CORE" --listen 7=echo --cc "$TT_CC"
  transfer "$tag"
  # The last RTO/resend counts land in the snapshot within a report period (~100 ms).
  sleep 0.5
  tcpterm_stat >"$RAW/$tag.stat.json"
  tcpterm_kill || true
  cp "$TT_LOG" "$RAW/$tag.server.log"
  read -r RTOS RESENT <<<"$(python3 -c "
import json; s = json.load(open('$RAW/$tag.stat.json'))['total']['mib']
print(s['TCPTimeouts'], s['RetransSegs'])")"
}

round_linux() {
  local tag=$1 a b
  # The kernel owns the address only while its server runs, never while tcpterm is on the veth.
  in_s ip addr add "$SRV_IP/24" dev "$VA"
  # One connection, recv then sendall, as tcpterm's echo app does (it stops reading while its
  # send buffer is full). socat's PIPE echo deadlocks on itself: with a full pipe it blocks
  # writing into the pipe it alone reads.
  ip netns exec "$NS_S" taskset -c "$SRV_CORE" python3 -c '
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 7))
cc = sys.argv[2].encode()
if cc:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
s.listen(8)
c, _ = s.accept()
if cc:
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc)
while True:
    d = c.recv(262144)
    if not d:
        break
    c.sendall(d)
c.close()
' "$SRV_IP" "$CC" 2>"$RAW/$tag.server.err" &
  SOCAT_PID=$!
  local i
  for i in $(seq 1 50); do
    in_s ss -Hltn 'sport = :7' | grep -q . && break
    sleep 0.1
  done
  read -r a b <<<"$(nstat_get TcpExtTCPTimeouts TcpRetransSegs | paste -sd' ')"
  transfer "$tag"
  wait "$SOCAT_PID" || { echo "$tag: the kernel's echo server failed" >&2; return 1; }
  SOCAT_PID=""
  local a2 b2
  read -r a2 b2 <<<"$(nstat_get TcpExtTCPTimeouts TcpRetransSegs | paste -sd' ')"
  RTOS=$((a2 - a))
  RESENT=$((b2 - b))
  in_s ip addr del "$SRV_IP/24" dev "$VA"
  # tcpterm answers ARP with the veth's MAC too, but be exact.
  in_c ip neigh flush dev ttbr0 2>/dev/null || true
}

head -c $((MB << 20)) /dev/urandom >"$INPUT"
WANT=$(sha256sum <"$INPUT" | cut -d' ' -f1)
TSV="$OUT/rounds.tsv"
printf 'run\tserver\tround\tseconds\trtos\tresent_segs\tdropped_to_client\tdropped_from_client\n' >"$TSV"
for run in $RUNS; do
  pct=${run%%:*} dir=${run#*:}
  topo_up
  loss_on "$pct" "$dir"
  LINUX_CC=${CC:-$(in_s sysctl -n net.ipv4.tcp_congestion_control)}
  for r in $(seq 1 "$ROUNDS"); do
    for srv in tcpterm linux; do
      tag="$pct-$dir.$srv.$r"
      read -r d0in d0out _ _ <<<"$(loss_counts)"
      log "$run round $r/$ROUNDS: $srv, $MB MiB echo"
      "round_$srv" "$tag"
      read -r d1in d1out _ _ <<<"$(loss_counts)"
      log "  $SECS s, $RTOS RTOs, $RESENT segments resent (nft dropped $((d1in - d0in)) to the client, $((d1out - d0out)) from it)"
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pct%-$dir" "$srv" "$r" "$SECS" "$RTOS" "$RESENT" \
        "$((d1in - d0in))" "$((d1out - d0out))" >>"$TSV"
    done
  done
  topo_down || true
done

python3 - "$TSV" "$MB" "$ROUNDS" <<'PY' | tee "$OUT/results.md"
import csv, statistics, sys
tsv, mb, rounds = sys.argv[1], sys.argv[2], sys.argv[3]
rows = list(csv.DictReader(open(tsv), delimiter="\t"))
runs = list(dict.fromkeys(r["run"] for r in rows))
def vals(run, srv, k):
    return [float(r[k]) for r in rows if r["run"] == run and r["server"] == srv]
def mmm(v, fmt):
    return f"{fmt.format(statistics.median(v))} ({fmt.format(min(v))}-{fmt.format(max(v))})"
def ratio(a, b):
    a, b = statistics.median(a), statistics.median(b)
    if b == 0:
        return "-" if a == 0 else "inf"
    return f"{a / b:.2f}"
print(f"## Loss recovery: {mb} MiB echo, tcpterm vs Linux, {rounds} round(s) each, alternating")
print()
print("median (min-max) over rounds; ratio = median tcpterm / median Linux")
print()
print("| loss | time tcpterm (s) | time Linux (s) | ratio | RTOs tcpterm | RTOs Linux | ratio | resent segs tcpterm | resent segs Linux | ratio |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for run in runs:
    cells = [run]
    for k, fmt in (("seconds", "{:.2f}"), ("rtos", "{:.0f}"), ("resent_segs", "{:.0f}")):
        t, l = vals(run, "tcpterm", k), vals(run, "linux", k)
        cells += [mmm(t, fmt), mmm(l, fmt), ratio(t, l)]
    print("| " + " | ".join(cells) + " |")
PY
{
  echo
  echo "Produced by \`${CC:+CC=$CC }MB=$MB ROUNDS=$ROUNDS RUNS=\"$RUNS\" scripts/bench/loss.sh\` ($(date -u +%Y-%m-%dT%H:%MZ),"
  echo "commit $(git -C "$ITEST_ROOT" rev-parse --short HEAD), Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end)."
  echo "\"to-peer\": loss on the server -> client direction only. The Linux server used"
  echo "congestion control $LINUX_CC (CC, else the namespace's net.ipv4.tcp_congestion_control; the client: the namespace's); tcpterm --cc $TT_CC (TT_CC)."
} | tee -a "$OUT/results.md"
echo "results in $OUT" >&2
