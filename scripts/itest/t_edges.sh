#!/usr/bin/env bash
# Edges a real Linux peer exercises: a 16 MiB response to a rate-limited reader (the window
# closes and reopens), a client that aborts with RST mid-response (no connection may be left),
# a client with a 1000-byte MTU (its MSS must be honoured, or veth drops the frames), and 100
# pipelined HEAD requests on one connection.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
trap topo_down EXIT
trap 'exit 1' INT TERM

BODY=$((16 << 20))
plan 4
topo_up
tcpterm_start 1 "" --listen 80=http --http-body-size $BODY --msl-ms 1000 ||
  { fail "edges: tcpterm start"; exit 1; }
url="http://$SRV_IP/"

out=$(in_c curl -sS --max-time 30 --limit-rate 8M -o /dev/null -w '%{http_code} %{size_download}' "$url" 2>&1)
[ "$out" = "200 $BODY" ] && pass "edges: 16 MiB to a rate-limited reader complete" ||
  fail "edges: rate-limited reader got '$out', want '200 $BODY'"

res=$(in_c python3 - "$SRV_IP" <<'PY'
import socket, struct, sys
s = socket.create_connection((sys.argv[1], 80), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
got = 0
while got < 1_000_000:
    d = s.recv(65536)
    if not d:
        break
    got += len(d)
# SO_LINGER 0: close() sends RST instead of FIN.
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
print(got)
PY
)
sleep 0.5
left=$(stat_py "s['total']['conns']")
rst=$(stat_py "s['total']['mib'].get('EstabResets', 0)")
if [ "${res:-0}" -ge 1000000 ] && [ "$left" = 0 ] && [ "$rst" -ge 1 ]; then
  pass "edges: client RST mid-response: connection gone (EstabResets $rst)"
else
  fail "edges: client RST mid-response: read ${res:-?} bytes, $left connection(s) left, EstabResets $rst"
fi

in_c ip link set "$VB" mtu 1000
out=$(in_c curl -sS --max-time 30 -o /dev/null -w '%{http_code} %{size_download}' "$url" 2>&1)
in_c ip link set "$VB" mtu 1500
[ "$out" = "200 $BODY" ] && pass "edges: client with MTU 1000 (MSS 960) gets all 16 MiB" ||
  fail "edges: client with MTU 1000 got '$out', want '200 $BODY'"

n=$(in_c python3 - "$SRV_IP" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=5)
s.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" * 100)
buf = b""
try:
    while buf.count(b"HTTP/1.1 200") < 100:
        d = s.recv(65536)
        if not d:
            break
        buf += d
except OSError:
    pass
print(buf.count(b"HTTP/1.1 200"))
PY
)
[ "$n" = 100 ] && pass "edges: 100 pipelined HEAD requests, 100 responses" ||
  fail "edges: 100 pipelined HEAD requests, $n responses"
