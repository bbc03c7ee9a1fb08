#!/usr/bin/env bash
# ab without keep-alive: 20,000 short connections, 50 at a time, none failed.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
trap topo_down EXIT
trap 'exit 1' INT TERM

N=${AB_N:-20000}
plan 1
topo_up
tcpterm_start 1 "" --listen 80=http --msl-ms 2000 || { fail "ab: tcpterm start"; exit 1; }
in_c bash -c 'exec ab -q -n '$N' -c 50 -s 10 http://'$SRV_IP'/' >"$ITEST_TMP/ab" 2>&1
rc=$?
sed 's/^/    /' "$ITEST_TMP/ab" | grep -E 'Complete|Failed|Non-2xx|Requests per|Time per|apr_|Length' >&2
done_=$(awk '/^Complete requests:/{print $3}' "$ITEST_TMP/ab")
failed=$(awk '/^Failed requests:/{print $3}' "$ITEST_TMP/ab")
non2xx=$(awk '/^Non-2xx responses:/{print $3}' "$ITEST_TMP/ab")
rps=$(awk '/^Requests per second:/{print $4}' "$ITEST_TMP/ab")
if [ $rc = 0 ] && [ "$done_" = "$N" ] && [ "$failed" = 0 ] && [ -z "$non2xx" ]; then
  pass "ab: $done_ connections completed, 0 failed, $rps conn/s"
else
  fail "ab: rc=$rc complete=$done_ failed=$failed non2xx=${non2xx:-0}"
  tail -5 "$ITEST_TMP/ab"
fi
