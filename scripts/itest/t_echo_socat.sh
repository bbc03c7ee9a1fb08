#!/usr/bin/env bash
# socat to echo: 50 MB of random bytes come back byte-exact; half-close: the client shuts down
# its write side after sending and still receives everything.
# With ITEST_LOSS=N, N% of frames are dropped at random (nftables on a bridge in the peer's
# namespace, see loss_on in lib.sh); ITEST_LOSS_DIR=both (default) | to-peer | from-peer picks
# the direction. Under loss it also asserts:
#  - every frame tcpterm sent reached the peer: the port's tx_packets (`tcpterm stat --json`,
#    port.tx_packets: DPDK's opackets) equals the peer veth's rx_packets, and the frames the
#    veth received since the rules went in equal those the nft input chain dropped plus those
#    it let through (exact, see loss_on). A frame the kernel refuses (over the MTU) breaks the
#    first equation.
#  - the RTO bound: tcpterm's TCPTimeouts <= ceil(ITEST_RTO_PER_5MIB * MiB / 5). Linux, as the
#    server in this topology at 3% both ways, takes about 1 RTO per 5 MiB (6-9 for 50 MiB); the
#    default of 2 per 5 MiB leaves it twice that room.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
trap topo_down EXIT
trap 'exit 1' INT TERM

MB=${ECHO_MB:-50}
LOSS=${ITEST_LOSS:-0}
LOSS_DIR=${ITEST_LOSS_DIR:-both}
RTO_PER_5MIB=${ITEST_RTO_PER_5MIB:-2}
name=echo-socat
[ "$LOSS" != 0 ] && name="loss-${LOSS}%"
[ "$LOSS" != 0 ] && [ "$LOSS_DIR" != both ] && name="$name-$LOSS_DIR"
# The echo and the close; under loss also injection, the RTO bound and two frame counts.
if [ "$LOSS" != 0 ]; then plan 6; else plan 2; fi
topo_up
tcpterm_start 1 "" --listen 7=echo || { fail "$name: tcpterm start"; exit 1; }

if [ "$LOSS" != 0 ]; then
  loss_on "$LOSS" "$LOSS_DIR" || { fail "$name: loss injection (bridge + nftables)"; exit 1; }
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
  read -r din dout pin pout <<<"$(loss_counts)"
  retrans=$(stat_py "s['total']['mib'].get('RetransSegs', 0)")
  rtos=$(stat_py "s['total']['mib'].get('TCPTimeouts', 0)")
  log "$name: frames dropped: $din toward the peer, $dout from it; tcpterm retransmitted $retrans segments, $rtos RTOs"
  case "$LOSS_DIR" in
  both) [ "$din" -gt 0 ] && [ "$dout" -gt 0 ] ;;
  to-peer) [ "$din" -gt 0 ] && [ "$dout" = 0 ] ;;
  from-peer) [ "$din" = 0 ] && [ "$dout" -gt 0 ] ;;
  esac && pass "$name: loss injected $LOSS_DIR ($din toward the peer + $dout from it dropped)" ||
    fail "$name: loss not injected as asked ($LOSS_DIR; dropped: $din toward the peer, $dout from it)"
  max_rtos=$(((RTO_PER_5MIB * MB + 4) / 5))
  [ "$rtos" -le "$max_rtos" ] &&
    pass "$name: $rtos RTOs <= $max_rtos ($RTO_PER_5MIB per 5 MiB; Linux: ~1 per 5 MiB at 3%)" ||
    fail "$name: $rtos RTOs > $max_rtos ($RTO_PER_5MIB per 5 MiB, ITEST_RTO_PER_5MIB; Linux: ~1 per 5 MiB at 3%)"
fi
# After the exchange the connection must be gone on our side (closed, then TIME_WAIT at most).
sleep 0.3
est=$(stat_state ESTABLISHED)
cw=$(stat_state CLOSE_WAIT)
[ "$est" = 0 ] && [ "$cw" = 0 ] && pass "$name: connection closed on tcpterm's side" ||
  fail "$name: tcpterm still has ESTABLISHED=$est CLOSE_WAIT=$cw"

if [ "$LOSS" != 0 ]; then
  # Every frame tcpterm sent reached the peer's veth. Wait until tcpterm has no connection left
  # (a lost last ACK makes LAST_ACK resend its FIN) and both counts have stopped moving: the
  # port counters in the snapshot are refreshed once a second.
  for _ in $(seq 1 100); do
    [ "$(stat_py "s['total']['conns']")" = 0 ] && break
    sleep 0.1
  done
  prev=""
  for _ in $(seq 1 20); do
    vrx=$(veth_rx "$VB")
    ptx=$(stat_py "s['port']['tx_packets']")
    [ "$prev" = "$ptx $vrx" ] && break
    prev="$ptx $vrx"
    sleep 1.2
  done
  read -r din dout pin pout <<<"$(loss_counts)"
  vdrop=$(veth_stat "$VB" rx_dropped)
  since=$((vrx - LOSS_VB_RX0))
  [ "$since" = $((din + pin)) ] &&
    pass "$name: peer veth received $since frames since the loss rules = $din dropped by nft + $pin delivered" ||
    fail "$name: peer veth received $since frames since the loss rules, but nft saw $din dropped + $pin delivered = $((din + pin))"
  [ "$ptx" = "$vrx" ] &&
    pass "$name: every frame tcpterm sent reached the peer (port tx_packets $ptx = peer veth rx_packets $vrx; $din of them dropped by nft, $pin delivered)" ||
    fail "$name: port tx_packets $ptx != peer veth rx_packets $vrx ($((ptx - vrx)) frames lost before the peer: over the MTU? veth rx_dropped $vdrop; nft dropped $din, delivered $pin)"
fi
