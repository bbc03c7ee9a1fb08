#!/usr/bin/env bash
# tcpterm serve vs the Linux kernel serving the same response with nginx-light, in the same
# topology and the same run: two network namespaces joined by a veth pair, the load generators
# (wrk, ab) in the client namespace at 198.18.0.2, the server at 198.18.0.1 in the other:
#   1. tcpterm on the veth end through net_af_packet (the kernel holds no address there),
#   2. then nginx on the same veth end, the kernel now holding 198.18.0.1.
# Both serve a 200 with a body of BODY bytes (default 128), one worker each, pinned to the same
# core; the clients run on the other core. Prints a Markdown section for BENCHMARKS.md.
#
#   scripts/bench/vs-nginx.sh [--out FILE]     (root; builds nothing: run cargo build --release first)
# Knobs: BODY=128 DURATION=10s CONNS=100 AB_N=20000 AB_C=50 SRV_CORE=1 CLI_CORE=0 ROUNDS=2
#        NICE=-15 (the whole run in a session of its own with that autogroup priority)
# Rounds alternate tcpterm and nginx; the table gives the median over rounds of each figure.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
NICE=${NICE:--15}
source "$here/lib/autogroup.sh"
own_autogroup "$0" "$@"
source "$here/../itest/lib.sh"
ROUNDS=${ROUNDS:-2}

OUT=""
[ "${1:-}" = "--out" ] && OUT=$2
BODY=${BODY:-128}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-100}
AB_N=${AB_N:-20000}
AB_C=${AB_C:-50}
SRV_CORE=${SRV_CORE:-1}
CLI_CORE=${CLI_CORE:-0}
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
[ -x "$TCPTERM" ] || { echo "no $TCPTERM: cargo build --release -p tcpterm first" >&2; exit 1; }
command -v nginx >/dev/null || { echo "nginx not installed: bash scripts/setup.sh" >&2; exit 1; }

NGINX_PID=""
cleanup() {
  [ -n "$NGINX_PID" ] && kill -TERM "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
  topo_down
}
trap cleanup EXIT
trap 'exit 1' INT TERM
topo_up
url="http://$SRV_IP/"

# median TAG FIELD-FUNCTION FIELD: the median over rounds (numbers with a unit keep it).
median() {
  local tag=$1 fn=$2 k=$3 r vals=()
  for r in $(seq 1 "$ROUNDS"); do vals+=("$($fn "$ITEST_TMP/$tag.$r" "$k")"); done
  python3 - "$@" "${vals[@]}" <<'PY'
import re, statistics, sys
vals = sys.argv[4:]
nums, unit = [], ""
scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
for v in vals:
    m = re.match(r"\s*([0-9.]+)\s*([a-z]*)", v or "")
    if not m:
        continue
    x, u = float(m.group(1)), m.group(2)
    if u in scale:
        x, unit = x * scale[u], " ms"
    nums.append(x)
if not nums:
    print("?")
else:
    med = statistics.median(nums)
    spread = f" ({min(nums):.{2 if unit else 0}f}-{max(nums):.{2 if unit else 0}f})" if len(nums) > 1 else ""
    print(f"{med:.2f}{unit}{spread}" if unit else f"{med:.0f}{spread}")
PY
}
wrk_field() { # file field -> value
  local f=$1 k=$2
  case $k in
    rps) awk '/^Requests\/sec/{print $2}' "$f" ;;
    p50 | p75 | p90 | p99) awk -v p="${k#p}%" '$1==p{print $2}' "$f" ;;
    errors) grep -E 'Socket errors|Non-2xx' "$f" | tr -s ' ' | paste -sd';' ;;
  esac
}
ab_field() {
  local f=$1 k=$2
  case $k in
    cps) awk '/^Requests per second:/{print $4}' "$f" ;;
    failed) awk '/^Failed requests:/{print $3}' "$f" ;;
    p50 | p90 | p99) awk -v p="${k#p}%" '$1==p{print $2 "ms"}' "$f" ;;
  esac
}

# Runs the client side against whatever serves $url; leaves wrk.$1 and ab.$1 in ITEST_TMP.
load() {
  local tag=$1 # wrk.TAG and ab.TAG
  # A short warm-up: ARP, first connections, caches.
  in_c taskset -c "$CLI_CORE" wrk -t1 -c10 -d1s "$url" >/dev/null 2>&1
  in_c taskset -c "$CLI_CORE" wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$url" >"$ITEST_TMP/wrk.$tag" 2>&1
  log "  wrk: $(wrk_field "$ITEST_TMP/wrk.$tag" rps) req/s, p99 $(wrk_field "$ITEST_TMP/wrk.$tag" p99)"
  in_c taskset -c "$CLI_CORE" ab -q -n "$AB_N" -c "$AB_C" -s 10 "$url" >"$ITEST_TMP/ab.$tag" 2>&1
  log "  ab: $(ab_field "$ITEST_TMP/ab.$tag" cps) conn/s, failed $(ab_field "$ITEST_TMP/ab.$tag" failed)"
}

# --- nginx's configuration (started and stopped each round)
mkdir -p "$ITEST_TMP/nginx"
# The same body as tcpterm's http app (apps::http::response::body), its final newline escaped
# for nginx's quoted `return` string.
nbody=$(python3 -c "p=b'tcpterm says hello. '; b=(p*($BODY//len(p)+1))[:$BODY]; b=b[:-1]+b'\\n' if b else b; print(b.decode().replace(chr(10), chr(92)+'n'))")
cat >"$ITEST_TMP/nginx/nginx.conf" <<NGX
user root;
worker_processes 1;
worker_cpu_affinity $(python3 -c "print(bin(1 << $SRV_CORE)[2:])");
pid $ITEST_TMP/nginx/nginx.pid;
error_log $ITEST_TMP/nginx/error.log warn;
events { worker_connections 65536; }
worker_rlimit_nofile 65536;
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path $ITEST_TMP/nginx/tmp;
  proxy_temp_path $ITEST_TMP/nginx/tmp;
  fastcgi_temp_path $ITEST_TMP/nginx/tmp;
  uwsgi_temp_path $ITEST_TMP/nginx/tmp;
  scgi_temp_path $ITEST_TMP/nginx/tmp;
  server {
    listen $SRV_IP:80 backlog=4096;
    default_type text/plain;
    location / { return 200 "$nbody"; }
  }
}
NGX

tt_stat=""
nlen=0
for r in $(seq 1 "$ROUNDS"); do
  log "round $r/$ROUNDS: tcpterm"
  tcpterm_start 1 "$SRV_CORE" --listen 80=http --http-body-size "$BODY" --msl-ms 2000 || exit 1
  load "tcpterm.$r"
  tt_stat=$(stat_py "f\"{s['total']['mib'].get('PassiveOpens',0)} passive opens, drops: {', '.join(f'{k} {v}' for k,v in s['total']['drops'].items() if v) or 'none'}\"" 2>/dev/null)
  tcpterm_kill

  log "round $r/$ROUNDS: nginx"
  # The kernel owns the address only while nginx runs, never while tcpterm is on the veth.
  in_s ip addr add "$SRV_IP/24" dev "$VA"
  ip netns exec "$NS_S" nginx -c "$ITEST_TMP/nginx/nginx.conf" -p "$ITEST_TMP/nginx" -g 'daemon off;' &
  NGINX_PID=$!
  for _ in $(seq 1 50); do
    in_c curl -s -o /dev/null --max-time 1 "$url" && break
    sleep 0.1
  done
  nlen=$(in_c curl -s --max-time 2 "$url" | wc -c)
  if [ "$nlen" = 0 ]; then
    echo "nginx does not answer; its error log:" >&2
    cat "$ITEST_TMP/nginx/error.log" >&2
    exit 1
  fi
  load "nginx.$r"
  kill -TERM "$NGINX_PID" 2>/dev/null
  wait "$NGINX_PID" 2>/dev/null
  NGINX_PID=""
  in_s ip addr del "$SRV_IP/24" dev "$VA"
  # Flush the client's neighbour entry: tcpterm answers ARP with the same MAC, but be exact.
  in_c ip neigh flush dev "$VB" 2>/dev/null
done
tlen=$BODY

# --- report
kernel=$(uname -r)
cpu=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
{
  echo "## tcpterm serve vs the kernel (nginx)"
  echo
  echo "Same run, same topology: two network namespaces joined by a veth pair (offloads off), the"
  echo "clients (wrk, ab) in one at 198.18.0.2 pinned to core $CLI_CORE, the server at 198.18.0.1 in"
  echo "the other pinned to core $SRV_CORE: first tcpterm (one worker, \`net_af_packet\` on the veth"
  echo "end, EAL \`--no-huge --no-pci\`), then nginx-light $(nginx -v 2>&1 | sed 's/.*\///') (one worker,"
  echo "\`return 200\` of the same $BODY-byte body, access log off) on the Linux $kernel TCP stack."
  echo "Machine: 2 cores ($cpu), shared with other work while measured (load average"
  echo "$(cut -d' ' -f1-3 /proc/loadavg) at the end); the run had autogroup nice $NICE. $ROUNDS rounds alternating"
  echo "tcpterm and nginx; each cell is the median over rounds (min-max in brackets)."
  echo
  echo "| | tcpterm | nginx (kernel) |"
  echo "|---|---:|---:|"
  echo "| wrk -t2 -c$CONNS -d$DURATION: requests/s | $(median wrk.tcpterm wrk_field rps) | $(median wrk.nginx wrk_field rps) |"
  for p in p50 p75 p90 p99; do
    echo "| wrk latency $p | $(median wrk.tcpterm wrk_field $p) | $(median wrk.nginx wrk_field $p) |"
  done
  echo "| wrk socket errors / non-2xx (all rounds) | $(cat "$ITEST_TMP"/wrk.tcpterm.* | grep -cE 'Socket errors|Non-2xx') | $(cat "$ITEST_TMP"/wrk.nginx.* | grep -cE 'Socket errors|Non-2xx') |"
  echo "| ab -n $AB_N -c $AB_C (no keep-alive): connections/s | $(median ab.tcpterm ab_field cps) | $(median ab.nginx ab_field cps) |"
  for p in p50 p90 p99; do
    echo "| ab connection time $p | $(median ab.tcpterm ab_field $p) | $(median ab.nginx ab_field $p) |"
  done
  echo "| ab failed requests (all rounds) | $(cat "$ITEST_TMP"/ab.tcpterm.* | awk '/^Failed requests:/{s+=$3} END{print s+0}') | $(cat "$ITEST_TMP"/ab.nginx.* | awk '/^Failed requests:/{s+=$3} END{print s+0}') |"
  echo
  echo "Response body: tcpterm $tlen bytes, nginx $nlen bytes (headers differ: nginx adds Server and"
  echo "Date). tcpterm after the run: $tt_stat."
  echo
  echo "Produced by \`ROUNDS=$ROUNDS BODY=$BODY DURATION=$DURATION CONNS=$CONNS AB_N=$AB_N AB_C=$AB_C scripts/bench/vs-nginx.sh\`"
  echo "($(date -u +%Y-%m-%d))."
} | tee ${OUT:+"$OUT"}
