# Shared helpers for the integration tests: a two-namespace topology joined by a veth pair,
# tcpterm on one end (net_af_packet), the Linux kernel's TCP on the other. Sourced, not run.
#
# Topology (every name carries a per-test id, so tests never collide and cleanup is exact):
#   netns tt<ID>s  (tcpterm's side; no kernel address, so the kernel stays out of the way)
#       veth tt<ID>a  <- tcpterm attaches here with net_af_packet
#   netns tt<ID>c  (the Linux peer)
#       veth tt<ID>b  198.18.0.2/24
# tcpterm itself answers as 198.18.0.1/24. Only the benchmarking range 198.18.0.0/15 is used.
#
# The server side lives in its own namespace rather than the root one: there the kernel has no
# address and forwarding is off by default, so frames meant for tcpterm are never forwarded or
# answered by the host's own stack.

ITEST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TCPTERM=${TCPTERM:-$ITEST_ROOT/target/release/tcpterm}
SRV_IP=198.18.0.1
CLI_IP=198.18.0.2

# Per-test state, set by topo_up / tcpterm_start.
ID=""
NS_S=""
NS_C=""
VA=""
VB=""
TT_PID=""
TT_SOCK=""
TT_LOG=""
ITEST_TMP=""

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# A short id: interface names are limited to 15 characters.
new_id() { printf '%x%02x' $(($$ % 4096)) $((RANDOM % 256)); }

in_s() { ip netns exec "$NS_S" "$@"; }
in_c() { ip netns exec "$NS_C" "$@"; }

# Offloads off on a veth end, or the packet socket sees partial checksums and
# oversized (GSO/GRO) frames.
no_offloads() {
  local ns=$1 ifc=$2
  ip netns exec "$ns" ethtool -K "$ifc" tx off rx off tso off gso off gro off >/dev/null 2>&1 ||
    ip netns exec "$ns" ethtool -K "$ifc" tx off rx off tso off gso off >/dev/null
}

topo_up() {
  ID=$(new_id)
  NS_S="tt${ID}s"
  NS_C="tt${ID}c"
  VA="tt${ID}a"
  VB="tt${ID}b"
  ITEST_TMP=$(mktemp -d /tmp/tcpterm-itest.XXXXXX)
  [ -n "${ITEST_NSLOG:-}" ] && echo "$NS_S $NS_C" | tr ' ' '\n' >>"$ITEST_NSLOG"
  ip netns add "$NS_S"
  ip netns add "$NS_C"
  ip link add "$VA" netns "$NS_S" type veth peer name "$VB" netns "$NS_C"
  in_s ip link set lo up
  in_c ip link set lo up
  in_s sysctl -qw "net.ipv6.conf.$VA.disable_ipv6=1" || true
  in_c sysctl -qw "net.ipv6.conf.$VB.disable_ipv6=1" || true
  no_offloads "$NS_S" "$VA"
  no_offloads "$NS_C" "$VB"
  in_s ip link set "$VA" up
  in_c ip addr add "$CLI_IP/24" dev "$VB"
  in_c ip link set "$VB" up
}

topo_down() {
  tcpterm_kill
  # Anything else still running inside our own namespaces (a client a test left) goes too.
  local ns p
  for ns in $NS_C $NS_S; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  [ -n "$NS_C" ] && ip netns del "$NS_C" 2>/dev/null
  [ -n "$NS_S" ] && ip netns del "$NS_S" 2>/dev/null
  [ -n "$ITEST_TMP" ] && [ -z "${ITEST_KEEP:-}" ] && rm -rf "$ITEST_TMP"
  # DPDK 22.11 leaves its runtime directory (several MB of tmpfs) behind.
  [ -n "$ID" ] && rm -rf "/var/run/dpdk/tt$ID"
  NS_C="" NS_S="" ITEST_TMP=""
  return 0
}

# loss_on PERCENT [DIR]: drop PERCENT% of the frames at random, in the peer's namespace, with
# nftables. DIR is `both` (default), `to-peer` (only frames tcpterm -> peer) or `from-peer`
# (only peer -> tcpterm). Kernel TCP always builds GSO super-packets and segments them only
# at the device, so an IP `output` hook would drop ~20 segments at a time. Instead the peer's
# address moves to a bridge (offloads off, so it segments before the bridge) with the veth as
# its port, and the bridge family's input/output hooks drop single frames.
#
# Where frames are counted (so that accounting can be exact): a frame tcpterm sends is counted
# in the peer veth's rx_packets ($VB) when the veth hands it to the bridge, *before* the
# bridge's input hook; the input chain then either drops it (counter "drop") or lets it
# through to the peer's IP stack (counter "pass"). So, from loss_on on,
#   rx_packets($VB) delta = in.drop + in.pass
# exactly, and every frame the port sent appears in rx_packets($VB) unless the kernel refused
# it (af_packet refuses frames over the MTU; veth drops on a full backlog show in rx_dropped).
# The output chain sees peer -> tcpterm frames before $VB transmits them.
# LOSS_VB_RX0 holds rx_packets($VB) read just before the rules went in.
LOSS_VB_RX0=""
loss_on() {
  local pct=$1 dir=${2:-both} pin=$1 pout=$1
  case "$dir" in
  both) ;;
  to-peer) pout=0 ;;
  from-peer) pin=0 ;;
  *)
    log "loss_on: direction '$dir' is not both, to-peer or from-peer"
    return 1
    ;;
  esac
  in_c ip addr del "$CLI_IP/24" dev "$VB"
  in_c ip link add ttbr0 type bridge
  in_c sysctl -qw net.ipv6.conf.ttbr0.disable_ipv6=1 || true
  in_c ethtool -K ttbr0 tx off tso off gso off >/dev/null 2>&1
  in_c ip link set "$VB" master ttbr0
  in_c ip addr add "$CLI_IP/24" dev ttbr0
  in_c ip link set ttbr0 up
  LOSS_VB_RX0=$(veth_rx "$VB")
  # `numgen random mod 100 < 0` never matches, so a one-way rule set keeps the same shape and
  # the same counters.
  in_c nft -f - <<NFT
table bridge itestloss {
  chain in { type filter hook input priority 0; numgen random mod 100 < $pin counter drop comment "drop"; counter comment "pass"; }
  chain out { type filter hook output priority 0; numgen random mod 100 < $pout counter drop comment "drop"; counter comment "pass"; }
}
NFT
}

# The frames loss_on dropped and let through: "IN_DROP OUT_DROP IN_PASS OUT_PASS" (IN: toward
# the peer, tcpterm -> peer; OUT: from the peer).
loss_counts() {
  in_c nft -j list table bridge itestloss | python3 -c '
import json, sys
c = {}
for o in json.load(sys.stdin)["nftables"]:
    r = o.get("rule")
    if not r:
        continue
    n = [e["counter"]["packets"] for e in r["expr"] if "counter" in e]
    c[(r["chain"], r.get("comment"))] = n[0]
print(c[("in", "drop")], c[("out", "drop")], c[("in", "pass")], c[("out", "pass")])'
}

# veth_rx IF: rx_packets of the peer-side interface IF (in the peer's namespace).
veth_rx() { in_c cat "/sys/class/net/$1/statistics/rx_packets"; }
veth_stat() { in_c cat "/sys/class/net/$1/statistics/$2"; }

# tcpterm_start QPAIRS CORES-OR-EMPTY [extra serve args...]
tcpterm_start() {
  local qp=$1 cores=$2
  shift 2
  TT_SOCK="$ITEST_TMP/ctl.sock"
  TT_LOG="$ITEST_TMP/tcpterm.log"
  local devargs="net_af_packet0,iface=$VA"
  [ "$qp" -gt 1 ] && devargs="$devargs,qpairs=$qp"
  local core_args=()
  [ -n "$cores" ] && core_args=(--cores "$cores")
  # `ip netns exec` execs tcpterm in place, so $! is tcpterm's own pid (a function or a
  # subshell here would leave $! pointing at a bash that tcpterm outlives).
  ip netns exec "$NS_S" "$TCPTERM" serve --ip "$SRV_IP/24" --control-socket "$TT_SOCK" \
    --summary-interval-ms 0 --shutdown-timeout-ms 1000 "${core_args[@]}" "$@" \
    -- --no-huge --no-pci -m 512 --file-prefix "tt$ID" --log-level=lib.eal:error \
    --vdev "$devargs" >"$TT_LOG" 2>&1 &
  TT_PID=$!
  local i
  for i in $(seq 1 100); do
    if tcpterm_stat >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$TT_PID" 2>/dev/null; then
      log "tcpterm exited during start-up:"
      sed 's/^/    /' "$TT_LOG" >&2
      TT_PID=""
      return 1
    fi
    sleep 0.1
  done
  log "tcpterm did not answer on its control socket within 10 s"
  sed 's/^/    /' "$TT_LOG" >&2
  return 1
}

tcpterm_stat() { "$TCPTERM" stat --json --control-socket "$TT_SOCK"; }

# SIGTERM (graceful), then SIGKILL if it lingers. Only our own pid.
tcpterm_kill() {
  [ -z "$TT_PID" ] && return 0
  if kill -0 "$TT_PID" 2>/dev/null; then
    kill -TERM "$TT_PID" 2>/dev/null
    local i
    for i in $(seq 1 30); do
      kill -0 "$TT_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$TT_PID" 2>/dev/null
  fi
  wait "$TT_PID" 2>/dev/null
  TT_PID=""
  return 0
}

# jq-free JSON queries on the stat snapshot, through python3.
# stat_py 'EXPR' evaluates EXPR with `s` bound to the snapshot and prints the result.
stat_py() {
  tcpterm_stat | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}

# Count of connections in STATE summed over workers (0 when absent).
stat_state() { stat_py "s['total']['states'].get('$1', 0)"; }

# Test result bookkeeping: each test script declares how many checks it runs with `plan N`
# (before its first check; N may depend on the environment, as with ITEST_LOSS) and prints one
# PASS or FAIL line per check. The runner fails the test unless exactly N of them appeared,
# none of them FAIL, and the script exited 0.
plan() { echo "PLAN $1"; }
check() {
  local name=$1
  shift
  if "$@"; then
    echo "PASS $name"
  else
    echo "FAIL $name"
  fi
}
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; }
