#!/usr/bin/env bash
# Keep-alive service under a spoofed SYN flood: tcpterm serve vs the Linux kernel (nginx-light),
# in the same topology and the same run. Three network namespaces:
#   server  tt<ID>s  the server's veth end: tcpterm (net_af_packet, the kernel holds no address)
#                    or nginx (the kernel holds 198.18.0.1)
#   client  tt<ID>c  a bridge joining the server's veth and the flooder's; wrk at 198.18.0.2
#   flood   tt<ID>f  `tcpterm gen` with scripts/scenarios/syn-flood.toml at 198.18.0.3: SYNs
#                    from random addresses in SPOOF (default 198.18.128.0/17) to port 80
# For each server, wrk (keep-alive, -c CONNS, DURATION seconds) runs once beside a flooder
# paced at 1 SYN/s (the baseline: the flooder busy-polls its core as in the flood runs, so the
# client side competes for the same CPU) and once beside each rate in RATES. Reported: wrk's
# requests/s under each flood as a share of the baseline, tcpterm beside Linux, and where
# tcpterm's frames went (port counters, drop reasons, SYN queue and cookie counters; with
# PERF=1 a perf profile of the tcpterm worker under the highest flood).
#
# The spoofed sources must not get replies that go anywhere. tcpterm answers a SYN to the MAC
# it came from, the flooder's, whose engine drops the SYN-ACK (not its address). For Linux,
# SPOOF is routed via 198.18.0.254, a neighbour with a permanent entry for a MAC nobody has
# (02:00:00:00:00:fe): the SYN-ACKs leave the server as tcpterm's do and die on the bridge's
# far ports. Without a route the kernel would drop the SYNs before TCP saw them (and a
# blackhole route makes it drop them after a route lookup, before any SYN-queue work).
#
# Kernel work is steered with RPS so that each side's receive processing runs on its own core
# (see rps below); without it the veth pairs bill the receiver's kernel to the sender's core.
#
#   scripts/bench/synflood.sh [--out DIR]   (root; cargo build --release -p tcpterm --bin tcpterm first)
# Knobs: RATES="20000 100000" DURATION=10 CONNS=50 ROUNDS=1 SRV_CORE=1 CLI_CORE=0 (wrk and the
#        flooder share it) SPOOF=198.18.128.0/17 PERF=1 NICE=-15
# Output: the tables on stdout and in DIR (default bench/results/<UTC date>-synflood) with
# results.md, runs.tsv and the raw logs (wrk, gen reports, tcpterm stat snapshots, nstat).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
NICE=${NICE:--15}
source "$here/lib/autogroup.sh"
own_autogroup "$0" "$@"
source "$here/../itest/lib.sh"

RATES=${RATES:-"20000 100000"}
DURATION=${DURATION:-10}
CONNS=${CONNS:-50}
ROUNDS=${ROUNDS:-1}
SRV_CORE=${SRV_CORE:-1}
CLI_CORE=${CLI_CORE:-0}
SPOOF=${SPOOF:-198.18.128.0/17}
PERF=${PERF:-1}
FLOOD_IP=198.18.0.3
FAKE_HOP=198.18.0.254
FAKE_MAC=02:00:00:00:00:fe
OUT=""
if [ "${1:-}" = "--out" ]; then
  OUT=${2:?--out needs a directory}
fi
[ -n "$OUT" ] || OUT="$ITEST_ROOT/bench/results/$(date -u +%Y-%m-%d)-synflood"

[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
[ -x "$TCPTERM" ] || { echo "no $TCPTERM: cargo build --release -p tcpterm --bin tcpterm first" >&2; exit 1; }
for c in wrk nginx nstat python3 taskset; do
  command -v "$c" >/dev/null || { echo "$c is not installed: bash scripts/setup.sh" >&2; exit 1; }
done
if [ "$PERF" = 1 ] && ! command -v perf >/dev/null; then
  echo "perf is not installed (apt-get install linux-perf), or run with PERF=0" >&2
  exit 1
fi
for r in $RATES; do
  [[ "$r" =~ ^[1-9][0-9]*$ ]] || { echo "RATES: '$r' is not a positive integer" >&2; exit 1; }
done
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || { echo "DURATION must be whole seconds, not '$DURATION'" >&2; exit 1; }
mkdir -p "$OUT/raw"
RAW="$OUT/raw"

NS_F=""
GEN_PID=""
NGINX_PID=""
N=0
cleanup() {
  set +e
  for p in $GEN_PID $NGINX_PID; do
    kill -TERM "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  [ -n "$NS_F" ] && {
    for p in $(ip netns pids "$NS_F" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$NS_F" 2>/dev/null
  }
  rm -rf /var/run/dpdk/ttf"$ID"-*
  topo_down
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# --- topology: the itest pair, plus a flooder namespace bridged in on the client's side.
topo_up
NS_F="tt${ID}f"
VC="tt${ID}x"
VD="tt${ID}y"
ip netns add "$NS_F"
ip link add "$VC" netns "$NS_C" type veth peer name "$VD" netns "$NS_F"
ip netns exec "$NS_F" ip link set lo up
ip netns exec "$NS_F" sysctl -qw "net.ipv6.conf.$VD.disable_ipv6=1" || true
in_c sysctl -qw "net.ipv6.conf.$VC.disable_ipv6=1" || true
no_offloads "$NS_C" "$VC"
no_offloads "$NS_F" "$VD"
in_c ip addr del "$CLI_IP/24" dev "$VB"
in_c ip link add ttbr0 type bridge
in_c sysctl -qw net.ipv6.conf.ttbr0.disable_ipv6=1 || true
in_c ethtool -K ttbr0 tx off tso off gso off >/dev/null 2>&1 || true
in_c ip link set "$VB" master ttbr0
in_c ip link set "$VC" master ttbr0
in_c ip addr add "$CLI_IP/24" dev ttbr0
in_c ip link set "$VC" up
in_c ip link set ttbr0 up
ip netns exec "$NS_F" ip link set "$VD" up
# Bridged frames would go through the iptables hooks (br_netfilter is loaded on these hosts):
# 19% of the cycles in a first profile, for no rule at all.
in_c sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-arptables=0 2>/dev/null || true
# Where the kernel's receive work runs. A veth transmit runs the receiving side's stack in the
# sender's context (softirq at the end of its sendto), so without steering the server's core
# paid for the client's and the flooder's kernels (85% of tcpterm's worker time under a
# 100k/s flood was its sendto, mostly the bridge and the far end's receive), and Linux's SYN
# handling ran on the flooder's core instead of nginx's. RPS puts each receiving interface's
# work on the core of the namespace that owns it: the client's and the flooder's on CLI_CORE,
# the server's veth end on SRV_CORE, for both servers. So the client core carries the same
# work in both runs, and the server core carries the server's receive path: the kernel's TCP
# for Linux; for tcpterm the af_packet ring fill (tpacket_rcv), a cost of the virtual port
# that a NIC would not have. (Steering tcpterm's ring fill to CLI_CORE instead loaded the
# client core only in tcpterm's runs: the flooder then managed 83k SYN/s there against 100k
# in Linux's, and wrk slowed for reasons not tcpterm's.)
rps() { # NS IF CORE
  ip netns exec "$1" sh -c "printf %x $((1 << $3)) >/sys/class/net/$2/queues/rx-0/rps_cpus"
}
rps "$NS_C" "$VB" "$CLI_CORE"
rps "$NS_C" "$VC" "$CLI_CORE"
rps "$NS_F" "$VD" "$CLI_CORE"
rps "$NS_S" "$VA" "$SRV_CORE"
url="http://$SRV_IP/"

# --- nginx's configuration (as scripts/bench/vs-nginx.sh runs it)
mkdir -p "$ITEST_TMP/nginx"
cat >"$ITEST_TMP/nginx/nginx.conf" <<NGX
user root;
worker_processes 1;
worker_cpu_affinity $(python3 -c "print(bin(1 << $SRV_CORE)[2:])");
pid $ITEST_TMP/nginx/nginx.pid;
error_log $ITEST_TMP/nginx/error.log warn;
events { worker_connections 65536; }
worker_rlimit_nofile 65536;
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $ITEST_TMP/nginx/tmp;
  proxy_temp_path $ITEST_TMP/nginx/tmp;
  fastcgi_temp_path $ITEST_TMP/nginx/tmp;
  uwsgi_temp_path $ITEST_TMP/nginx/tmp;
  scgi_temp_path $ITEST_TMP/nginx/tmp;
  server {
    listen $SRV_IP:80 backlog=4096;
    default_type text/plain;
    location / { return 200 "tcpterm says hello.\\n"; }
  }
}
NGX

# flood_start TAG RATE: the flooder, from 2 s before wrk starts until after it ends.
flood_start() {
  local tag=$1 rate=$2
  N=$((N + 1))
  local sc="$ITEST_TMP/flood-$N.toml"
  sed -E -e "s|^(duration *= *)[^#]*# @DURATION\$|\\1\"$((DURATION + 5))s\" # @DURATION|" \
    -e "s|^(rate *= *)[^#]*# @RATE\$|\\1$rate # @RATE|" \
    -e "s|^sources *=.*|sources = \"$SPOOF\"|" "$ITEST_ROOT/scripts/scenarios/syn-flood.toml" >"$sc"
  grep -q "^rate = $rate # @RATE" "$sc" || { echo "could not set the flood rate in $sc" >&2; return 1; }
  ip netns exec "$NS_F" "$TCPTERM" gen --scenario "$sc" --ip "$FLOOD_IP/24" --target "$SRV_IP:80" \
    --cores "$CLI_CORE" --json "$RAW/$tag.gen.json" -- -l "$CLI_CORE" --no-huge --no-pci -m 512 \
    --file-prefix "ttf$ID-$N" --log-level=lib.eal:error --vdev "net_af_packet0,iface=$VD" \
    >"$RAW/$tag.gen.out" 2>"$RAW/$tag.gen.err" &
  GEN_PID=$!
  local i
  for i in $(seq 1 100); do
    grep -q '^\[' "$RAW/$tag.gen.err" 2>/dev/null && break
    kill -0 "$GEN_PID" 2>/dev/null || { echo "tcpterm gen exited:" >&2; cat "$RAW/$tag.gen.err" >&2; return 1; }
    sleep 0.1
  done
  grep -q '^\[' "$RAW/$tag.gen.err" || { echo "tcpterm gen shows no progress:" >&2; cat "$RAW/$tag.gen.err" >&2; return 1; }
}

flood_wait() {
  local rc=0
  wait "$GEN_PID" || rc=$?
  GEN_PID=""
  # 3: errors were counted; a flood counts none, so anything but 0 is a failure here.
  [ "$rc" = 0 ] || { echo "tcpterm gen failed (exit $rc):" >&2; tail -5 "$RAW/$1.gen.err" >&2; return 1; }
}

wrk_run() { # TAG: wrk beside the running flooder; sets RPS
  local tag=$1
  in_c taskset -c "$CLI_CORE" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$url" >"$RAW/$tag.wrk" 2>&1
  RPS=$(awk '/^Requests\/sec/{print $2}' "$RAW/$tag.wrk")
  [ -n "$RPS" ] || { echo "wrk gave no rate:" >&2; cat "$RAW/$tag.wrk" >&2; return 1; }
}

syns_of() { python3 -c "import json; p=json.load(open('$RAW/$1.gen.json'))['phases'][0]; print(p['counts']['syns_sent'], p['syns_per_s'])"; }

TSV="$OUT/runs.tsv"
printf 'server\tround\tflood_rate\tsyns_sent\tsyns_per_s\twrk_rps\twrk_errors\n' >"$TSV"
record() { # SERVER ROUND RATE TAG
  local syns sps errs
  read -r syns sps <<<"$(syns_of "$4")"
  errs=$(grep -E 'Socket errors|Non-2xx' "$RAW/$4.wrk" | tr -s ' ' | paste -sd';' || true)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$syns" "$sps" "$RPS" "${errs:-none}" >>"$TSV"
  log "  $1 flood $3/s (sent $sps/s): wrk $RPS req/s ${errs:+($errs)}"
}

tt_snap() { tcpterm_stat >"$RAW/$1.json"; }

for r in $(seq 1 "$ROUNDS"); do
  log "round $r/$ROUNDS: tcpterm"
  tcpterm_start 1 "$SRV_CORE" --listen 80=http
  in_c taskset -c "$CLI_CORE" wrk -t1 -c10 -d1s "$url" >/dev/null 2>&1
  for rate in 1 $RATES; do
    tag="tcpterm.$r.$rate"
    flood_start "$tag" "$rate"
    sleep 1
    tt_snap "$tag.before"
    wrk_run "$tag"
    tt_snap "$tag.after"
    flood_wait "$tag"
    record tcpterm "$r" "$rate" "$tag"
  done
  if [ "$PERF" = 1 ] && [ "$r" = 1 ]; then
    top=$(echo "$RATES" | tr ' ' '\n' | sort -n | tail -1)
    tag="tcpterm.perf.$top"
    log "  profiling the tcpterm worker under a $top/s flood (not counted)"
    flood_start "$tag" "$top"
    sleep 1
    (in_c taskset -c "$CLI_CORE" wrk -t1 -c"$CONNS" -d"${DURATION}s" "$url" >"$RAW/$tag.wrk" 2>&1 &)
    sleep 1
    perf record -q -F 999 -g -p "$TT_PID" -o "$RAW/perf.data" -- sleep 5 >/dev/null 2>&1 || true
    perf report -q -i "$RAW/perf.data" -g none --no-children --sort symbol --percent-limit 1.5 --stdio 2>/dev/null |
      grep -E '^ +[0-9.]+%' | head -30 >"$RAW/perf.top" || true
    # Kernel against user time, and the inclusive cost of the paths that matter.
    perf report -q -i "$RAW/perf.data" -g none --no-children --sort dso --stdio 2>/dev/null |
      grep -E '^ +[0-9.]+%' | head -5 >"$RAW/perf.dso" || true
    perf report -q -i "$RAW/perf.data" -g none --children --sort symbol --stdio 2>/dev/null |
      grep -E '__sys_sendto|packet_sendmsg|handle_softirqs|process_backlog|tpacket_rcv|veth_xmit|Engine<A>::receive|SynCookies|cookie_synack|TimerWheel<T>::poll_expired|TimeWaitTable::expire|tcpterm_rdtsc|worker::run' \
      >"$RAW/perf.paths" || true
    rm -f "$RAW/perf.data"
    flood_wait "$tag"
    sleep 1
  fi
  tcpterm_kill || true

  log "round $r/$ROUNDS: linux (nginx)"
  in_s ip addr add "$SRV_IP/24" dev "$VA"
  in_s ip neigh replace "$FAKE_HOP" lladdr "$FAKE_MAC" nud permanent dev "$VA"
  in_s ip route replace "$SPOOF" via "$FAKE_HOP" dev "$VA"
  ip netns exec "$NS_S" nginx -c "$ITEST_TMP/nginx/nginx.conf" -p "$ITEST_TMP/nginx" -g 'daemon off;' &
  NGINX_PID=$!
  for _ in $(seq 1 50); do
    in_c curl -s -o /dev/null --max-time 1 "$url" && break
    sleep 0.1
  done
  in_c curl -sf -o /dev/null --max-time 2 "$url" || { echo "nginx does not answer:" >&2; cat "$ITEST_TMP/nginx/error.log" >&2; exit 1; }
  in_c taskset -c "$CLI_CORE" wrk -t1 -c10 -d1s "$url" >/dev/null 2>&1
  for rate in 1 $RATES; do
    tag="linux.$r.$rate"
    flood_start "$tag" "$rate"
    sleep 1
    in_s nstat -asz >"$RAW/$tag.before.nstat"
    wrk_run "$tag"
    in_s nstat -asz >"$RAW/$tag.after.nstat"
    flood_wait "$tag"
    record linux "$r" "$rate" "$tag"
  done
  kill -TERM "$NGINX_PID" 2>/dev/null || true
  wait "$NGINX_PID" 2>/dev/null || true
  NGINX_PID=""
  in_s ip route del "$SPOOF" via "$FAKE_HOP" dev "$VA"
  in_s ip neigh del "$FAKE_HOP" dev "$VA"
  in_s ip addr del "$SRV_IP/24" dev "$VA"
  in_c ip neigh flush dev ttbr0 2>/dev/null || true
done

python3 - "$OUT" "$RATES" "$ROUNDS" "$CONNS" "$DURATION" "$SPOOF" <<'PY' | tee "$OUT/results.md"
import csv, json, os, statistics, sys
out, rates, rounds, conns, dur, spoof = sys.argv[1:7]
raw = os.path.join(out, "raw")
rows = list(csv.DictReader(open(os.path.join(out, "runs.tsv")), delimiter="\t"))
rates = [int(r) for r in rates.split()]
def rps(srv, rate):
    return [float(r["wrk_rps"]) for r in rows if r["server"] == srv and int(r["flood_rate"]) == rate]
def sent(srv, rate):
    return [float(r["syns_per_s"]) for r in rows if r["server"] == srv and int(r["flood_rate"]) == rate]
def errs(srv, rate):
    e = [r["wrk_errors"] for r in rows if r["server"] == srv and int(r["flood_rate"]) == rate and r["wrk_errors"] != "none"]
    return "; ".join(e) if e else "none"
med = statistics.median
print(f"## Keep-alive under a spoofed SYN flood: tcpterm vs Linux (nginx)")
print()
print(f"wrk -t1 -c{conns} -d{dur}s keep-alive; flood from {spoof}; {rounds} round(s), medians; share = wrk req/s under the flood / req/s beside a 1 SYN/s flooder.")
print("Receive work steered by RPS: the client's and flooder's interfaces on the client core, the server's veth end on the server core (Linux: its TCP; tcpterm: the af_packet ring fill).")
print()
print("| flood (SYN/s asked; sent) | tcpterm req/s | tcpterm share | Linux req/s | Linux share | wrk errors tcpterm / Linux |")
print("|---|---:|---:|---:|---:|---|")
b_t, b_l = med(rps("tcpterm", 1)), med(rps("linux", 1))
print(f"| baseline (1/s) | {b_t:.0f} | 100% | {b_l:.0f} | 100% | {errs('tcpterm', 1)} / {errs('linux', 1)} |")
for rate in rates:
    t, l = med(rps("tcpterm", rate)), med(rps("linux", rate))
    st, sl = med(sent("tcpterm", rate)), med(sent("linux", rate))
    print(f"| {rate} ({st:.0f} / {sl:.0f}) | {t:.0f} | {100 * t / b_t:.0f}% | {l:.0f} | {100 * l / b_l:.0f}% | {errs('tcpterm', rate)} / {errs('linux', rate)} |")
print()
# Where tcpterm's frames went: counter deltas over the wrk run, round 1.
def snap(tag):
    return json.load(open(os.path.join(raw, tag + ".json")))
def nst(tag):
    d = {}
    for line in open(os.path.join(raw, tag + ".nstat")):
        p = line.split()
        if len(p) >= 2 and p[1].isdigit():
            d[p[0]] = int(p[1])
    return d
print("### Where tcpterm's time and frames go (round 1, deltas over the wrk run)")
print()
mibs = ["PassiveOpens", "ListenOverflows", "ListenDrops", "SyncookiesSent", "SyncookiesRecv", "SyncookiesFailed", "TCPSynRetrans", "InSegs", "OutSegs"]
hdr = ["flood"] + ["port rx", "port rx_missed", "port rx_nombuf", "port tx", "queue tx_dropped"] + mibs + ["SYN_RECV at end", "drops (reason n)"]
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for rate in [1] + rates:
    a, b = snap(f"tcpterm.1.{rate}.before"), snap(f"tcpterm.1.{rate}.after")
    pa, pb = a.get("port") or {}, b.get("port") or {}
    cells = [str(rate)]
    for k in ["rx_packets", "rx_missed", "rx_nombuf", "tx_packets"]:
        cells.append(str(pb.get(k, 0) - pa.get(k, 0)))
    cells.append(str(b["total"]["queue"]["tx_dropped"] - a["total"]["queue"]["tx_dropped"]))
    for m in mibs:
        cells.append(str(b["total"]["mib"].get(m, 0) - a["total"]["mib"].get(m, 0)))
    cells.append(str(b["total"]["states"].get("SYN_RECV", 0)))
    dr = [(k, v - a["total"]["drops"].get(k, 0)) for k, v in b["total"]["drops"].items()]
    cells.append(", ".join(f"{k} {v}" for k, v in dr if v) or "none")
    print("| " + " | ".join(cells) + " |")
print()
print("### Linux (nginx) counters (round 1, deltas over the wrk run, server namespace)")
print()
keys = ["IpInReceives", "TcpPassiveOpens", "TcpExtListenOverflows", "TcpExtListenDrops", "TcpExtSyncookiesSent", "TcpExtSyncookiesRecv", "TcpExtTCPReqQFullDoCookies", "TcpExtTCPReqQFullDrop", "TcpExtTCPSynRetrans", "TcpOutSegs"]
print("| flood | " + " | ".join(keys) + " |")
print("|" + "---|" * (len(keys) + 1))
for rate in [1] + rates:
    a, b = nst(f"linux.1.{rate}.before"), nst(f"linux.1.{rate}.after")
    print(f"| {rate} | " + " | ".join(str(b.get(k, 0) - a.get(k, 0)) for k in keys) + " |")
top = os.path.join(raw, "perf.top")
if os.path.exists(top) and os.path.getsize(top) > 0:
    print()
    print(f"### perf: the tcpterm process under a {max(rates)}/s flood with wrk running (self time, symbols >= 1.5%)")
    print()
    print("```")
    print(open(top).read().rstrip())
    print("```")
    for name, what in (("perf.dso", "by object (kernel vs tcpterm)"), ("perf.paths", "inclusive (children) cost of the main paths: total, self")):
        f = os.path.join(raw, name)
        if os.path.exists(f) and os.path.getsize(f) > 0:
            print()
            print(f"{what}:")
            print()
            print("```")
            print(open(f).read().rstrip())
            print("```")
PY
{
  echo
  echo "Produced by \`RATES=\"$RATES\" DURATION=$DURATION CONNS=$CONNS ROUNDS=$ROUNDS scripts/bench/synflood.sh\`"
  echo "($(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ITEST_ROOT" rev-parse --short HEAD), Linux $(uname -r), load average"
  echo "$(cut -d' ' -f1-3 /proc/loadavg) at the end). Server on core $SRV_CORE; wrk and the flooder share core $CLI_CORE."
} | tee -a "$OUT/results.md"
echo "results in $OUT" >&2
