#!/usr/bin/env bash
# 10,000 concurrent connections from the kernel held open: tcpterm stat shows all ESTABLISHED;
# closed by the client: after 2 x MSL nothing is left in any state on tcpterm's side, and the
# kernel side holds nothing but the TIME-WAITs an active closer must keep.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
trap topo_down EXIT
trap 'exit 1' INT TERM

N=${CONNS_N:-10000}
MSL_MS=2000
plan 4
topo_up
tcpterm_start 1 "" --listen 80=http --msl-ms $MSL_MS || { fail "conns-${N}: tcpterm start"; exit 1; }
go="$ITEST_TMP/go"
in_c bash -c "ulimit -n $((N + 1024)) 2>/dev/null || ulimit -n \$(ulimit -Hn); exec python3 '$(dirname "$0")/conns.py' $SRV_IP 80 $N '$go'" \
  >"$ITEST_TMP/conns.out" 2>&1 &
py=$!
for _ in $(seq 1 600); do
  grep -qE '^(ESTABLISHED|FAILED)' "$ITEST_TMP/conns.out" && break
  kill -0 $py 2>/dev/null || break
  sleep 0.1
done
t_up=$SECONDS
if grep -q "^ESTABLISHED $N\$" "$ITEST_TMP/conns.out"; then
  pass "conns-$N: kernel client has $N connections up"
else
  fail "conns-$N: client: $(head -c 300 "$ITEST_TMP/conns.out")"
fi
# The stats thread folds worker reports every 100 ms: give it a moment to catch up.
est=0
for _ in $(seq 1 50); do
  est=$(stat_state ESTABLISHED)
  [ "$est" = "$N" ] && break
  sleep 0.1
done
[ "$est" = "$N" ] && pass "conns-$N: tcpterm stat --json shows $est ESTABLISHED" ||
  fail "conns-$N: tcpterm stat --json shows $est ESTABLISHED, want $N"
kest=$(in_c ss -Htan state established | wc -l)
log "conns-$N: kernel ss: $kest established"

touch "$go"
wait $py
log "conns-$N: client: $(tail -1 "$ITEST_TMP/conns.out")"
# Two MSL plus a margin for the last FIN/ACK exchanges and the 100 ms stats cadence.
sleep $(python3 -c "print(2*$MSL_MS/1000 + 1.0)")
left=$(stat_py "sum(v for k,v in s['total']['states'].items() if k not in ('CLOSED','LISTEN')) + s['total']['time_wait'] + s['total']['conns']")
states=$(stat_py "{k:v for k,v in s['total']['states'].items() if v}")
[ "$left" = 0 ] && pass "conns-$N: after close + 2xMSL tcpterm holds no connection in any state" ||
  fail "conns-$N: after close + 2xMSL tcpterm still holds $left: $states"
# Kernel side: nothing but TIME-WAIT (the client closed first, so it keeps those for 60 s).
in_c ss -Htan >"$ITEST_TMP/ss"
other=$(awk '$1 != "TIME-WAIT" && $1 != "LISTEN"' "$ITEST_TMP/ss" | wc -l)
tw=$(awk '$1 == "TIME-WAIT"' "$ITEST_TMP/ss" | wc -l)
if [ "$other" = 0 ]; then
  pass "conns-$N: kernel side clean: 0 sockets open or closing ($tw in TIME-WAIT, proof each got tcpterm's FIN)"
else
  fail "conns-$N: kernel side has $other socket(s) not in TIME-WAIT:"
  awk '{print $1}' "$ITEST_TMP/ss" | sort | uniq -c
fi
