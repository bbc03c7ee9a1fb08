#!/usr/bin/env bash
# wrk -t2 -c100 -d10s against http: no socket errors, no non-2xx responses.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
trap topo_down EXIT
trap 'exit 1' INT TERM

plan 1
topo_up
tcpterm_start 1 "" --listen 80=http || { fail "wrk: tcpterm start"; exit 1; }
in_c bash -c 'exec wrk -t2 -c100 -d10s --timeout 10s --latency http://'$SRV_IP'/' >"$ITEST_TMP/wrk" 2>&1
rc=$?
sed 's/^/    /' "$ITEST_TMP/wrk" >&2
reqs=$(awk '/requests in/{print $1}' "$ITEST_TMP/wrk")
rps=$(awk '/^Requests\/sec/{print $2}' "$ITEST_TMP/wrk")
sockerr=$(grep -c 'Socket errors' "$ITEST_TMP/wrk")
non2xx=$(grep -c 'Non-2xx' "$ITEST_TMP/wrk")
if [ $rc = 0 ] && [ -n "$reqs" ] && [ "$reqs" -gt 0 ] && [ "$sockerr" = 0 ] && [ "$non2xx" = 0 ]; then
  pass "wrk: $reqs requests, $rps req/s, 0 socket errors, 0 non-2xx"
else
  fail "wrk: rc=$rc requests=$reqs socket-error-lines=$sockerr non2xx-lines=$non2xx"
  grep -E 'Socket errors|Non-2xx' "$ITEST_TMP/wrk"
fi
