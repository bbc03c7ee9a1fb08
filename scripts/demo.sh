#!/usr/bin/env bash
# The demo: tcpterm on a net_tap device that this host can reach, serving HTTP on port 80 and
# echo on port 7. Installs what it needs, builds a release binary, starts the server, shows the
# curl line and runs it once, then serves until Ctrl-C.
#
#   scripts/demo.sh            serve until Ctrl-C
#   scripts/demo.sh --once     exit after the check (also DEMO_ONCE=1); exit status says if it worked
#
# Addresses: tcpterm is 198.18.0.1/24; the host side of the tap (interface tcpterm0) gets
# 198.18.0.2/24. Only the benchmarking range 198.18.0.0/15 is used. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

ONCE=${DEMO_ONCE:-0}
for a in "$@"; do
  case $a in
    --once) ONCE=1 ;;
    -h | --help)
      sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "unknown argument $a (try --once or --help)" >&2
      exit 2
      ;;
  esac
done
if [ "$(id -u)" != 0 ]; then
  echo "demo.sh needs root (DPDK creates a tap interface and the host side gets an address)" >&2
  exit 1
fi

IFACE=tcpterm0
SRV=198.18.0.1
HOST=198.18.0.2
SOCK=/run/tcpterm-demo.sock
BIN=target/release/tcpterm

bash scripts/setup.sh
echo "demo: building tcpterm (release)..."
cargo build --release -p tcpterm --bin tcpterm 2>&1 | grep -vE '^\s+(Compiling|Checking)' || true
[ -x "$BIN" ] || { echo "demo: build failed" >&2; exit 1; }

if ip link show "$IFACE" >/dev/null 2>&1; then
  echo "demo: interface $IFACE already exists (another tcpterm running?); stop it first" >&2
  exit 1
fi

LOG=$(mktemp /tmp/tcpterm-demo.XXXXXX.log)
# Its own session: Ctrl-C reaches only this script, which then stops tcpterm exactly once
# (a second signal would make tcpterm skip its graceful drain).
setsid "$BIN" serve --ip "$SRV/24" --listen 80=http --listen 7=echo --control-socket "$SOCK" \
  -- --no-huge --no-pci -m 512 --file-prefix tcpterm-demo --log-level=lib.eal:error \
  "--vdev=net_tap0,iface=$IFACE" >"$LOG" 2>&1 &
PID=$!
cleanup() {
  if kill -0 "$PID" 2>/dev/null; then
    echo "demo: stopping tcpterm"
    kill -TERM "$PID" 2>/dev/null || true
    for _ in $(seq 1 80); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PID" 2>/dev/null || true
  fi
  wait "$PID" 2>/dev/null || true
  # DPDK 22.11 leaves its runtime directory (several MB of tmpfs) behind.
  rm -rf /var/run/dpdk/tcpterm-demo
  grep -v '^TELEMETRY' "$LOG" | sed -n '/^tcpterm .* pid /,$p' | head -20 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# DPDK creates the tap when the port is probed; wait for it, then give the host side its
# address. Offloads off: tcpterm sees full checksums and no oversized (GSO) frames.
for _ in $(seq 1 100); do
  ip link show "$IFACE" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
ip link show "$IFACE" >/dev/null 2>&1 || { echo "demo: $IFACE never appeared" >&2; cat "$LOG" >&2; exit 1; }
sysctl -qw "net.ipv6.conf.$IFACE.disable_ipv6=1" 2>/dev/null || true
ethtool -K "$IFACE" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
ip addr add "$HOST/24" dev "$IFACE"
ip link set "$IFACE" up
for _ in $(seq 1 100); do
  "$BIN" stat --json --control-socket "$SOCK" >/dev/null 2>&1 && break
  kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
grep '^tcpterm:' "$LOG" | head -3 || true

CURL="curl -sS -i http://$SRV/"
echo
echo "tcpterm is serving HTTP on $SRV:80 and echo on $SRV:7 (host side: $HOST on $IFACE)."
echo "Try it from this host:"
echo
echo "    $CURL"
echo "    echo hello | socat - TCP:$SRV:7"
echo "    $BIN stat --control-socket $SOCK"
echo
echo "demo: running it once:"
ok=0
for _ in 1 2 3; do
  if out=$($CURL --max-time 5 2>&1); then ok=1; break; fi
  sleep 1
done
echo "$out" | sed 's/^/    /'
echo
if [ $ok = 1 ] && grep -q '^HTTP/1.1 200' <<<"$out"; then
  echo "demo: it works."
else
  echo "demo: the request failed; tcpterm's log:" >&2
  sed 's/^/    /' "$LOG" >&2
  exit 1
fi
if [ "$ONCE" = 1 ]; then
  exit 0
fi
echo "demo: serving until Ctrl-C (log: $LOG)."
wait "$PID"
