#!/usr/bin/env bash
# The integration suite: tcpterm on a veth (net_af_packet) against the Linux kernel's TCP in a
# network namespace, with curl, wrk, ab, socat and a python client as the peers. Needs root.
# Prints PASS/FAIL lines per check and ends with `N passed, M failed`; exits non-zero on any
# failure. ITEST_ONLY="wrk ab" runs a subset; ITEST_KEEP=1 keeps the per-test temp dirs.
#
# A test script passes only if all of these hold, so that one cannot pass by accident:
#  - it printed no FAIL line;
#  - it exited 0 (a script that dies halfway fails even after some PASS lines);
#  - it declared its number of checks with exactly one `plan N` (lib.sh) line, `PLAN N`, and
#    printed exactly N PASS/FAIL lines (a check that never ran is a failure, not a silence).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# Poll-mode workers are starved by other busy-polling work of higher priority on a shared
# machine, and the tests then time out for reasons that are not tcpterm's. Linux autogroups
# schedule each session as one unit, so run in a session of our own with a raised autogroup
# priority (ITEST_NICE=0 turns this off).
ITEST_NICE=${ITEST_NICE:--15}
if [ "$ITEST_NICE" != 0 ] && [ -z "${ITEST_INNER:-}" ] && [ -e /proc/self/autogroup ] &&
  [ "$(id -u)" = 0 ]; then
  export ITEST_NICE ITEST_INNER=1
  exec setsid -w bash -c 'echo "$ITEST_NICE" >/proc/self/autogroup 2>/dev/null || true; exec bash "$0" "$@"' \
    "$0" "$@"
fi
source "$here/lib.sh"

if [ "$(id -u)" != 0 ]; then
  echo "integration tests need root (network namespaces, veth, packet sockets)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
if [ ! -x "$TCPTERM" ]; then
  echo "no tcpterm binary at $TCPTERM: build it with cargo build --release -p tcpterm" >&2
  echo "0 passed, 1 failed"
  exit 1
fi

# name:script:seconds-allowed[:ENV=VAL ...]
TESTS=(
  "http-curl:t_http_curl.sh:60"
  "wrk:t_wrk.sh:60"
  "ab:t_ab.sh:120"
  "echo-socat:t_echo_socat.sh:180"
  "edges:t_edges.sh:90"
  "conns-10k:t_conns10k.sh:150"
  "loss:t_echo_socat.sh:420:ITEST_LOSS=3"
  "loss-1way:t_echo_socat.sh:300:ITEST_LOSS=3 ITEST_LOSS_DIR=to-peer"
  "workers-2:t_workers2.sh:90"
  "workers-2-1q:t_workers2.sh:90:W2_QPAIRS=1"
)

results=$(mktemp -d /tmp/tcpterm-itest-results.XXXXXX)
export ITEST_NSLOG="$results/namespaces"
: >"$ITEST_NSLOG"
passed=0 failed=0
start=$SECONDS
for t in "${TESTS[@]}"; do
  IFS=: read -r name script limit envs <<<"$t"
  if [ -n "${ITEST_ONLY:-}" ] && [[ " $ITEST_ONLY " != *" $name "* ]]; then continue; fi
  echo "=== $name"
  t0=$SECONDS
  env ${envs:-} timeout --signal=TERM --kill-after=10 "$limit" bash "$here/$script" 2>&1 |
    tee "$results/$name"
  rc=${PIPESTATUS[0]}
  p=$(grep -c '^PASS ' "$results/$name")
  f=$(grep -c '^FAIL ' "$results/$name")
  ran=$((p + f))
  plans=$(grep -c '^PLAN ' "$results/$name")
  declared=$(awk '/^PLAN /{print $2; exit}' "$results/$name")
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "FAIL $name: timed out after ${limit}s ($ran of ${declared:-?} checks ran)"
    f=$((f + 1))
  elif [ "$rc" != 0 ]; then
    echo "FAIL $name: exited $rc ($ran of ${declared:-?} checks ran)"
    f=$((f + 1))
  fi
  if [ "$plans" != 1 ] || ! [[ "$declared" =~ ^[1-9][0-9]*$ ]]; then
    echo "FAIL $name: $script must declare its number of checks once (plan N), found $plans PLAN line(s)${declared:+ (first: '$declared')}"
    f=$((f + 1))
  elif [ "$ran" != "$declared" ] && [ "$rc" != 124 ] && [ "$rc" != 137 ]; then
    echo "FAIL $name: $ran checks ran, $script declared $declared"
    f=$((f + 1))
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  echo "--- $name: $p passed, $f failed ($((SECONDS - t0)) s)"
done
# Nothing may outlive the suite: every namespace a test made must be gone.
leftover=0
while read -r ns; do
  if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
    leftover=$((leftover + 1))
    ip netns del "$ns" 2>/dev/null
  fi
done <"$ITEST_NSLOG"
rm -rf "$results"
if [ "$leftover" != 0 ]; then
  echo "FAIL cleanup: $leftover test namespace(s) left behind"
  failed=$((failed + 1))
fi
echo "integration suite took $((SECONDS - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
