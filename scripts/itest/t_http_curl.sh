#!/usr/bin/env bash
# curl from the kernel peer to tcpterm's http app: status, Content-Length, body size,
# keep-alive reuse across two URLs, and `Connection: close` honoured.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
trap topo_down EXIT
trap 'exit 1' INT TERM

BODY=1000
plan 4
topo_up
tcpterm_start 1 "" --listen 80=http --http-body-size $BODY || { fail "http-curl: tcpterm start"; exit 1; }
url="http://$SRV_IP/"

# One request: the headers and the body as separate files, so each can be checked exactly.
out=$(in_c curl -sS --max-time 10 -D "$ITEST_TMP/h1" -o "$ITEST_TMP/b1" \
  -w '%{http_code} %{size_download}' "$url" 2>&1)
code=${out%% *} size=${out##* }
clen=$(tr -d '\r' <"$ITEST_TMP/h1" | awk -F': ' 'tolower($1)=="content-length"{print $2}')
if [ "$code" = 200 ] && [ "$clen" = "$BODY" ] && [ "$size" = "$BODY" ] &&
  [ "$(stat -c %s "$ITEST_TMP/b1")" = "$BODY" ]; then
  pass "http-curl: GET / -> 200, Content-Length $clen, $size body bytes"
else
  fail "http-curl: GET / -> '$out' (want 200 $BODY), Content-Length '$clen'"
fi

# Two URLs in one curl run: the second must reuse the first's connection.
in_c curl -sS -v --max-time 10 -o /dev/null -o /dev/null "$url" "${url}again" \
  >"$ITEST_TMP/v2" 2>&1
reused=$(grep -c 'Re-using existing connection' "$ITEST_TMP/v2")
codes=$(grep -c '^< HTTP/1.1 200' "$ITEST_TMP/v2")
if [ "$reused" -ge 1 ] && [ "$codes" = 2 ]; then
  pass "http-curl: keep-alive: 2 responses on one connection"
else
  fail "http-curl: keep-alive: reused=$reused 200s=$codes"
  sed 's/^/    /' "$ITEST_TMP/v2" | tail -30
fi

# Connection: close: the server says close and closes; curl must not reuse it.
in_c curl -sS -v --max-time 10 -H 'Connection: close' -o /dev/null -o /dev/null \
  "$url" "${url}again" >"$ITEST_TMP/v3" 2>&1
rc=$?
closed_hdr=$(grep -ci '^< connection: close' "$ITEST_TMP/v3")
reused=$(grep -c 'Re-using existing connection' "$ITEST_TMP/v3")
codes=$(grep -c '^< HTTP/1.1 200' "$ITEST_TMP/v3")
if [ $rc = 0 ] && [ "$closed_hdr" = 2 ] && [ "$reused" = 0 ] && [ "$codes" = 2 ]; then
  pass "http-curl: Connection: close answered with close, no reuse"
else
  fail "http-curl: Connection: close: rc=$rc close-headers=$closed_hdr reused=$reused 200s=$codes"
  sed 's/^/    /' "$ITEST_TMP/v3" | tail -30
fi

# The server side must have seen those connections end (no leak in ESTABLISHED).
sleep 0.5
est=$(stat_state ESTABLISHED)
[ "$est" = 0 ] && pass "http-curl: no connection left ESTABLISHED" ||
  fail "http-curl: $est connection(s) still ESTABLISHED after curl exited"
