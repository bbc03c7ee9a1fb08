#!/usr/bin/env bash
# socat to echo: 50 MB of random bytes come back byte-exact; half-close: the client shuts down
# its write side after sending and still receives everything.
# With ITEST_LOSS=N, N% of frames are dropped at random in both directions (nftables).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
trap topo_down EXIT
trap 'exit 1' INT TERM

MB=${ECHO_MB:-50}
LOSS=${ITEST_LOSS:-0}
name=echo-socat
[ "$LOSS" != 0 ] && name="loss-${LOSS}%"
topo_up
tcpterm_start 1 "" --listen 7=echo || { fail "$name: tcpterm start"; exit 1; }

if [ "$LOSS" != 0 ]; then
  loss_on "$LOSS" || { fail "$name: loss injection (bridge + nftables)"; exit 1; }
fi

head -c $((MB << 20)) /dev/urandom >"$ITEST_TMP/in"
want=$(sha256sum <"$ITEST_TMP/in" | cut -d' ' -f1)
t0=$(date +%s.%N)
# socat reads the file to EOF, then shuts down its write side (FIN) and keeps reading until the
# server closes: -t is how long it waits for the far side after its own EOF.
in_c timeout 300 socat -b 65536 -t 30 - "TCP:$SRV_IP:7" <"$ITEST_TMP/in" >"$ITEST_TMP/out" 2>"$ITEST_TMP/socat.err"
rc=$?
t1=$(date +%s.%N)
got=$(sha256sum <"$ITEST_TMP/out" | cut -d' ' -f1)
size=$(stat -c %s "$ITEST_TMP/out")
secs=$(echo "$t1 - $t0" | bc -l 2>/dev/null || python3 -c "print($t1-$t0)")
mbps=$(python3 -c "print(f'{2*$MB/($t1-$t0):.1f}')")
if [ $rc = 0 ] && [ "$got" = "$want" ]; then
  pass "$name: $MB MiB echoed byte-exact (sha256 match) in $(printf %.1f "$secs") s (~$mbps MiB/s both ways), half-close OK"
else
  fail "$name: rc=$rc got $size of $((MB << 20)) bytes, sha256 ${got:0:12} want ${want:0:12}"
  sed 's/^/    /' "$ITEST_TMP/socat.err" | tail -5
fi
if [ "$LOSS" != 0 ]; then
  read -r din dout <<<"$(loss_counts)"
  retrans=$(stat_py "s['total']['mib'].get('RetransSegs', 0)")
  rtos=$(stat_py "s['total']['mib'].get('TCPTimeouts', 0)")
  log "$name: frames dropped: $din toward the peer, $dout from it; tcpterm retransmitted $retrans segments, $rtos RTOs"
  [ "${din:-0}" -gt 0 ] && [ "${dout:-0}" -gt 0 ] && pass "$name: loss injected both ways ($din + $dout frames dropped)" ||
    fail "$name: loss not injected both ways (dropped: '${din:-}' '${dout:-}')"
fi
# After the exchange the connection must be gone on our side (closed, then TIME_WAIT at most).
sleep 0.3
est=$(stat_state ESTABLISHED)
cw=$(stat_state CLOSE_WAIT)
[ "$est" = 0 ] && [ "$cw" = 0 ] && pass "$name: connection closed on tcpterm's side" ||
  fail "$name: tcpterm still has ESTABLISHED=$est CLOSE_WAIT=$cw"
