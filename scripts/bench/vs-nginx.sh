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
# Knobs: BODY=128 DURATION=10s CONNS=100 AB_N=20000 AB_C=50 SRV_CORE=1 CLI_CORE=0
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../itest/lib.sh"

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

# Runs the client side against whatever serves $url; leaves wrk.$1 and ab.$1 in ITEST_TMP.
load() {
  local tag=$1
  # A short warm-up: ARP, first connections, caches.
  in_c taskset -c "$CLI_CORE" wrk -t1 -c10 -d1s "$url" >/dev/null 2>&1
  in_c taskset -c "$CLI_CORE" wrk -t2 -c"$CONNS" -d"$DURATION" --latency "$url" >"$ITEST_TMP/wrk.$tag" 2>&1
  in_c taskset -c "$CLI_CORE" ab -q -n "$AB_N" -c "$AB_C" -s 10 "$url" >"$ITEST_TMP/ab.$tag" 2>&1
}

# --- tcpterm
tcpterm_start 1 "$SRV_CORE" --listen 80=http --http-body-size "$BODY" --msl-ms 2000 || exit 1
load tcpterm
tt_stat=$(stat_py "f\"{s['total']['mib'].get('PassiveOpens',0)} passive opens, drops: {', '.join(f'{k} {v}' for k,v in s['total']['drops'].items() if v) or 'none'}\"" 2>/dev/null)
tcpterm_kill

# --- nginx on the same veth end, the kernel now owning the address
in_s ip addr add "$SRV_IP/24" dev "$VA"
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
in_s nginx -t -c "$ITEST_TMP/nginx/nginx.conf" -p "$ITEST_TMP/nginx" >/dev/null 2>&1 ||
  { in_s nginx -t -c "$ITEST_TMP/nginx/nginx.conf" -p "$ITEST_TMP/nginx"; exit 1; }
ip netns exec "$NS_S" nginx -c "$ITEST_TMP/nginx/nginx.conf" -p "$ITEST_TMP/nginx" -g 'daemon off;' &
NGINX_PID=$!
for _ in $(seq 1 50); do
  in_c curl -s -o /dev/null --max-time 1 "$url" && break
  sleep 0.1
done
nlen=$(in_c curl -s "$url" | wc -c)
tlen=$BODY
load nginx

# --- report
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
    p50 | p90 | p99) awk -v p="${k#p}%" '$1==p{print $2 " ms"}' "$f" ;;
  esac
}
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
  echo "Machine: 2 cores ($cpu), shared with other work while measured."
  echo
  echo "| | tcpterm | nginx (kernel) |"
  echo "|---|---:|---:|"
  echo "| wrk -t2 -c$CONNS -d$DURATION: requests/s | $(wrk_field "$ITEST_TMP/wrk.tcpterm" rps) | $(wrk_field "$ITEST_TMP/wrk.nginx" rps) |"
  for p in p50 p75 p90 p99; do
    echo "| wrk latency $p | $(wrk_field "$ITEST_TMP/wrk.tcpterm" $p) | $(wrk_field "$ITEST_TMP/wrk.nginx" $p) |"
  done
  echo "| wrk errors | $(wrk_field "$ITEST_TMP/wrk.tcpterm" errors | sed 's/^$/none/') | $(wrk_field "$ITEST_TMP/wrk.nginx" errors | sed 's/^$/none/') |"
  echo "| ab -n $AB_N -c $AB_C (no keep-alive): connections/s | $(ab_field "$ITEST_TMP/ab.tcpterm" cps) | $(ab_field "$ITEST_TMP/ab.nginx" cps) |"
  for p in p50 p90 p99; do
    echo "| ab connection time $p | $(ab_field "$ITEST_TMP/ab.tcpterm" $p) | $(ab_field "$ITEST_TMP/ab.nginx" $p) |"
  done
  echo "| ab failed requests | $(ab_field "$ITEST_TMP/ab.tcpterm" failed) | $(ab_field "$ITEST_TMP/ab.nginx" failed) |"
  echo
  echo "Response body: tcpterm $tlen bytes, nginx $nlen bytes (headers differ: nginx adds Server and"
  echo "Date). tcpterm after the run: $tt_stat."
  echo
  echo "Produced by \`BODY=$BODY DURATION=$DURATION CONNS=$CONNS AB_N=$AB_N AB_C=$AB_C scripts/bench/vs-nginx.sh\`"
  echo "($(date -u +%Y-%m-%d))."
} | tee ${OUT:+"$OUT"}
