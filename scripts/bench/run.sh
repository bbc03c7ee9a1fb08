#!/usr/bin/env bash
# The benchmark suite: tcpterm serve on one core, tcpterm gen on another, joined by one wire
# (net_memif here; scripts/bench/nic.sh runs the same steps over two NIC ports). Writes
# bench/results/<date>.md and PNG plots in bench/results/<date>/. See BENCHMARKS.md.
#
#   scripts/bench/run.sh [--quick] [--steps LIST] [--out DIR]
#     --quick      a few seconds per step, 100k idle connections (smoke test)
#     --steps      comma list of steps to run (default all): ceiling,echo,short,bulk,conns,
#                  latency,kernel  (echo needs ceiling for its ratio, latency needs echo)
#     --out DIR    results directory (default bench/results)
#   env: SRV_CORE (0), GEN_CORE (1), NICE (-15; 0 disables the raised priority),
#        SECS (seconds per measurement; 8, quick 3), ROUNDS (alternating ceiling/echo rounds;
#        5, quick 1), CONNS (idle connections of step 5; 1000000, quick 100000),
#        MAX_CONNS (the most step 5 tries after CONNS, memory permitting; 10000000, quick 0),
#        KEEP=1 keeps the raw logs.
#   Internal (set by nic.sh): --wire nic --gen-dev PCI --srv-dev PCI.
#
# Needs root (DPDK), dpdk-testpmd (Debian dpdk-dev; installed if missing), jq.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
NICE=${NICE:--15}
# Linux autogroups schedule each session as one unit, so plain `nice` does nothing against
# processes of other sessions: run in a session of our own and raise that group's priority.
# The new session has no terminal, so Ctrl-C reaches only this wrapper: it passes it on as
# SIGTERM (a background job may have SIGINT ignored, and an ignored signal cannot be trapped).
if [ "$NICE" != 0 ] && [ -z "${TT_BENCH_INNER:-}" ] && [ -e /proc/self/autogroup ]; then
  export NICE TT_BENCH_INNER=1
  setsid bash -c 'echo "$NICE" >/proc/self/autogroup 2>/dev/null || true; exec bash "$0" "$@"' \
    "$0" "$@" &
  inner=$!
  trap 'kill -TERM "$inner" 2>/dev/null || true' INT TERM HUP
  rc=0
  while kill -0 "$inner" 2>/dev/null; do
    wait "$inner" && rc=0 || rc=$?
  done
  exit "$rc"
fi

QUICK=0
STEPS=ceiling,echo,short,bulk,conns,latency,kernel
OUTDIR=bench/results
WIRE=memif
GEN_DEV= SRV_DEV=
while [ $# -gt 0 ]; do
  case $1 in
  --quick) QUICK=1 ;;
  --steps) STEPS=$2; shift ;;
  --out) OUTDIR=$2; shift ;;
  --wire) WIRE=$2; shift ;;
  --gen-dev) GEN_DEV=$2; shift ;;
  --srv-dev) SRV_DEV=$2; shift ;;
  -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
  *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
has() { [[ ",$STEPS," == *",$1,"* ]]; }

SRV_CORE=${SRV_CORE:-0}
GEN_CORE=${GEN_CORE:-1}
if [ "$QUICK" = 1 ]; then
  SECS=${SECS:-3} ROUNDS=${ROUNDS:-1} CONNS=${CONNS:-100000} MAX_CONNS=${MAX_CONNS:-0}
else
  SECS=${SECS:-8} ROUNDS=${ROUNDS:-5} CONNS=${CONNS:-1000000} MAX_CONNS=${MAX_CONNS:-10000000}
fi
SRV_IP=198.18.0.1
GEN_IP=198.18.0.2
CONN_RATE=${CONN_RATE:-100000} # idle connections opened per second in step 5

TMP=$(mktemp -d /tmp/tcpterm-suite.XXXXXX)
source scripts/bench/lib/common.sh
source scripts/bench/lib/criterion.sh
trap cleanup EXIT
trap 'echo; echo "interrupted: cleaning up"; exit 130' INT TERM

# Each side's port, as EAL arguments. Everything else is the same for both wires.
case $WIRE in
memif)
  # The server side is the memif server: it starts first and creates the socket.
  SOCK=$TMP/memif.sock
  SRV_WIRE=(--no-huge --no-pci -m 1024 --vdev "net_memif0,role=server,socket=$SOCK,socket-abstract=no")
  GEN_WIRE=(--no-huge --no-pci -m 1024 --vdev "net_memif0,role=client,socket=$SOCK,socket-abstract=no")
  FWD_MODE=macswap
  WIRE_DESC="one net_memif wire (DPDK $(pkg-config --modversion libdpdk 2>/dev/null || echo '?'), --no-huge)"
  ;;
nic)
  [ -n "$GEN_DEV" ] && [ -n "$SRV_DEV" ] || { echo "--wire nic needs --gen-dev and --srv-dev" >&2; exit 2; }
  SRV_WIRE=(-a "$SRV_DEV")
  GEN_WIRE=(-a "$GEN_DEV")
  FWD_MODE=io
  WIRE_DESC="NIC ports $GEN_DEV (generator) and $SRV_DEV (server), hugepages"
  ;;
*) echo "--wire must be memif or nic" >&2; exit 2 ;;
esac

DATE=$(date -u +%F)
NAME=$DATE
[ -e "$OUTDIR/$NAME.md" ] && NAME=$DATE-$(date -u +%H%M)
mkdir -p "$OUTDIR/$NAME"
MD=$OUTDIR/$NAME.md
PLOTS=$OUTDIR/$NAME

step "setup: building tcpterm (release) and the plot tool; wire: $WIRE_DESC"
bash scripts/setup.sh >/dev/null
if ! command -v dpdk-testpmd >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpdk-dev >/dev/null
fi
command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq >/dev/null
cargo build --release -q -p tcpterm --bin tcpterm
TT=$ROOT/target/release/tcpterm
PLOT=
if cargo build --release -q --manifest-path scripts/bench/plot/Cargo.toml 2>"$TMP/plot-build.log"; then
  PLOT=$ROOT/scripts/bench/plot/target/release/tcpterm-plot
else
  log "plot tool did not build (no PNGs this run): $(tail -1 "$TMP/plot-build.log")"
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "server core $SRV_CORE, generator core $GEN_CORE, ${SECS}s per measurement, $ROUNDS round(s)," \
  "nice $NICE (autogroup: $(cat /proc/self/autogroup 2>/dev/null || echo n/a)), load $LOAD_START"

plot() { [ -n "$PLOT" ] && "$PLOT" "$@" 2>&1 | sed 's/^/    plot: /' || true; }
NOTES=()
note() { NOTES+=("$*"); log "note: $*"; }

# ---- 1 + 2: the wire's ceiling and persistent echo, alternating rounds --------------------------
CEIL_FWD_R=() CEIL_ECHO_R=() E_RPS_R=() E_RX_R=() E_TX_R=() E_ERR=0
if has ceiling || has echo; then
  for r in $(seq 1 "$ROUNDS"); do
    if has ceiling; then
      step "[1/7] round $r/$ROUNDS: wire ceiling, dpdk-testpmd flowgen -> $FWD_MODE, 64 B frames, ${SECS}s"
      testpmd_ceiling "ceiling-$r" "$SECS"
      CEIL_FWD_R+=("$CEIL_FWD") CEIL_ECHO_R+=("$CEIL_ECHO")
      result "reflector forwards $(si "$CEIL_FWD") pps, generator gets back $(si "$CEIL_ECHO") pps"
    fi
    if has echo; then
      step "[2/7] round $r/$ROUNDS: persistent echo, 64 B messages, 64 connections, ${SECS}s"
      sc=$TMP/echo.toml
      scenario scripts/scenarios/bench-echo.toml "$sc" DURATION="\"${SECS}s\""
      start_server "echo-$r"
      rc=0
      run_gen "echo-$r" "$sc" 7 --ip "$GEN_IP/16" || rc=$?
      stop_server
      rps=$(gen_field "echo-$r" echo-max .requests_per_s)
      E_RPS_R+=("$rps")
      E_RX_R+=("$(srv_median rx_pps)") E_TX_R+=("$(srv_median tx_pps)")
      errs=$(gen_errors "echo-$r" echo-max)
      [ "$errs" != 0 ] && E_ERR=1
      result "generator $(si "$rps") requests/s; server rx $(si "${E_RX_R[-1]}") pps," \
        "tx $(si "${E_TX_R[-1]}") pps; errors $errs"
    fi
  done
fi
mid() { printf '%s\n' "$@" | median; }
CEIL_FWD=$(mid "${CEIL_FWD_R[@]}") CEIL_ECHO=$(mid "${CEIL_ECHO_R[@]}")
E_RPS=$(mid "${E_RPS_R[@]}") E_RX=$(mid "${E_RX_R[@]}") E_TX=$(mid "${E_TX_R[@]}")
# The headline ratio is the median of per-round ratios: a ceiling round and the echo round
# after it see similar load from the rest of the machine, which swings rates by 2-3x. Ratios
# are cut (not rounded) to one decimal, so a miss never prints as meeting 70%.
E_FRAC_R=()
for ((i = 0; i < ${#E_RX_R[@]} && i < ${#CEIL_FWD_R[@]}; i++)); do
  E_FRAC_R+=("$(calc '%.1f' 'c > 0 ? int(1000 * x / c) / 10 : 0' x="${E_RX_R[$i]}" c="${CEIL_FWD_R[$i]}")")
done
E_FRAC=$(mid "${E_FRAC_R[@]}")
E_FRAC_OF_MEDIANS=$(calc '%.1f' 'c > 0 ? int(1000 * x / c) / 10 : 0' x="$E_RX" c="$CEIL_FWD")
E_RFRAC=$(calc '%.1f' 'c > 0 ? int(1000 * x / c) / 10 : 0' x="$E_RPS" c="$CEIL_FWD")
if has ceiling && has echo; then
  result "medians: ceiling $(si "$CEIL_FWD") pps; echo server rx $(si "$E_RX") pps," \
    "$(si "$E_RPS") requests/s; echo / ceiling: $E_FRAC% (median of rounds' ratios)"
fi

# ---- 3: short HTTP transactions ---------------------------------------------------------------
S_CPS=0 S_SRV_CPS=0 S_P99=0 S_ERR=-
if has short; then
  step "[3/7] short HTTP transactions: connect, GET, 128 B response, close; 512 in flight, ${SECS}s"
  sc=$TMP/short.toml
  scenario scripts/scenarios/bench-short-http.toml "$sc" DURATION="\"${SECS}s\""
  start_server short
  run_gen short "$sc" 80 --ip "$GEN_IP/16" || true
  stop_server
  S_CPS=$(gen_field short short-http .conns_per_s)
  S_SRV_CPS=$(srv_median cps)
  S_P99=$(gen_field short short-http .latency_us.p99)
  S_ERR=$(gen_errors short short-http)
  result "generator $(si "$S_CPS") transactions/s; server accepts $(si "$S_SRV_CPS") connections/s" \
    "on 1 core; p99 $S_P99 µs; errors $S_ERR"
fi

# ---- 4: bulk ----------------------------------------------------------------------------------
B1_TX=0 B1_RX=0 B16_TX=0 B16_RX=0 B_ERR1=- B_ERR16=- B_DROPS=
if has bulk; then
  step "[4/7] bulk echo (both ways at once): 1 connection, then 16, ${SECS}s each"
  sc=$TMP/bulk.toml
  scenario scripts/scenarios/bench-bulk.toml "$sc" DURATION="\"${SECS}s\""
  start_server bulk
  run_gen bulk "$sc" 7 --ip "$GEN_IP/16" --rx-buf 256k --tx-buf 256k || true
  stop_server
  g() { calc '%.2f' 'v / 1000' v="$(gen_field bulk "$1" "$2")"; }
  B1_TX=$(g bulk-1 .tx_mbit_per_s) B1_RX=$(g bulk-1 .rx_mbit_per_s)
  B16_TX=$(g bulk-16 .tx_mbit_per_s) B16_RX=$(g bulk-16 .rx_mbit_per_s)
  B_ERR1=$(gen_errors bulk bulk-1) B_ERR16=$(gen_errors bulk bulk-16)
  B_DROPS=$(jq -r .drops "$SRV_STAT" | sort -g | tail -1)
  result "1 connection: $B1_TX Gbit/s to the server, $B1_RX Gbit/s back; errors $B_ERR1"
  result "16 connections: $B16_TX Gbit/s to the server, $B16_RX Gbit/s back; errors $B_ERR16"
  result "segments the server dropped during the step: ${B_DROPS:-?}"
fi

# ---- 5: idle connections and memory per connection --------------------------------------------
# "asked|established|server peak RSS growth/conn|generator peak RSS/conn|server peak MiB|errors|
#  seconds to open|server RSS MiB at the count"
C_ROWS=()
C_BEST_EST=0 C_BPC=0 C_BPC_MORE=
idle_run() { # $1: connections
  local n=$1 ips per=60000
  ips=$(((n + per - 1) / per))
  local last=$((ips + 9)) # 198.18.0.10 onwards
  local range="198.18.0.10-198.18.$((last / 256)).$((last % 256))/16"
  local open_s=$(((n + CONN_RATE - 1) / CONN_RATE))
  local dur=$((open_s * 3 + 30)) # the phase must outlast the opening; we stop it ourselves
  step "[5/7] $(si "$n") idle established connections from $ips source addresses," \
    "opened at $(si "$CONN_RATE")/s"
  local sc=$TMP/idle-$n.toml
  scenario scripts/scenarios/bench-idle.toml "$sc" DURATION="\"${dur}s\"" RATE="$CONN_RATE" CONNS="$n"
  start_server "idle-$n" --max-conns $((n + n / 8 + 1024)) --syn-backlog 65536
  sleep 1
  local base
  base=$(rss_kb "$SRV_PID")
  local rc=0
  nice -n "$NICE" "$TT" gen --scenario "$sc" --target "$SRV_IP:7" --cores "$GEN_CORE" \
    --json "$TMP/idle-$n.json" --ip "$range" --rx-buf 4k --tx-buf 4k --max-conns $((per + 1024)) \
    -- -l "$GEN_CORE" --file-prefix "tt-gen-$$-idle-$n" "${GEN_WIRE[@]}" \
    >"$TMP/idle-$n.gen.out" 2>"$TMP/idle-$n.gen.err" &
  local gpid=$!
  PIDS+=("$gpid")
  PREFIXES+=("tt-gen-$$-idle-$n")
  # Wait until the server holds them all (or stops gaining); keep the RSS of both processes at
  # the highest count seen (the figures use their peak, VmHWM, read once the count settled).
  local est=0 best=0 peak=0 gpeak=0 prev=-1 still=0 t0=$SECONDS rss grss
  while kill -0 "$gpid" 2>/dev/null; do
    sleep 2
    est=$(tail -1 "$SRV_STAT" | jq -r .est 2>/dev/null || echo 0)
    est=${est:-0}
    rss=$(rss_kb "$SRV_PID") grss=$(rss_kb "$gpid")
    if [ "$est" -gt "$best" ]; then best=$est peak=$rss gpeak=$grss; fi
    log "  established $(si "$est") of $(si "$n") (server RSS $((rss / 1024)) MiB," \
      "generator RSS $((grss / 1024)) MiB)"
    [ "$est" -ge "$n" ] && break
    if [ "$est" -le "$prev" ]; then still=$((still + 1)); else still=0; fi
    [ "$still" -ge 5 ] && break
    prev=$est
    [ $((SECONDS - t0)) -gt "$dur" ] && break
  done
  sleep 2 # let the last handshakes and counters settle
  est=$(tail -1 "$SRV_STAT" | jq -r .est 2>/dev/null || echo 0)
  rss=$(rss_kb "$SRV_PID") grss=$(rss_kb "$gpid")
  if [ "$est" -ge "$best" ]; then best=$est peak=$rss gpeak=$grss; fi
  est=$best
  # Peak resident sizes, before the teardown below can add to them.
  local hwm ghwm
  hwm=$(hwm_kb "$SRV_PID") ghwm=$(hwm_kb "$gpid")
  local elapsed=$((SECONDS - t0))
  # Errors while opening and holding (the live line's count); the teardown below adds its own.
  local oerr
  oerr=$(grep -a -o 'errors [0-9]*' "$TMP/idle-$n.gen.err" | tail -1 | awk '{print $2}')
  # End the phase: the generator closes everything; a second signal after 10 s makes it quit
  # at once (closing millions of connections is not what this step measures).
  kill -INT "$gpid" 2>/dev/null || true
  reap "$gpid" 10
  kill -INT "$gpid" 2>/dev/null || true
  reap "$gpid" 20
  stop_server
  local bpc gbpc
  # Server: growth of its peak RSS (VmHWM, which also counts table growth on the way) over its
  # RSS before the connections, per established connection; rounded up, never into a target.
  bpc=$(calc '%.0f' 'e > 0 ? int((p - b) * 1024 / e + 0.999999) : 0' p="$hwm" b="$base" e="$est")
  # The generator sizes its tables up front (--max-conns per address), so its growth says
  # little: its whole peak RSS per connection is what matters for how many more fit.
  gbpc=$(calc '%.0f' 'e > 0 ? int(p * 1024 / e + 0.999999) : 0' p="$ghwm" e="$est")
  local errs
  local terr
  terr=$(gen_errors "idle-$n" idle)
  [ "$terr" = "no report" ] && terr="not reported (the generator was stopped before its report)"
  errs="${oerr:-0} while opening; after teardown: $terr"
  C_ROWS+=("$n|$est|$bpc|$gbpc|$((hwm / 1024))|$errs|$elapsed|$((peak / 1024))")
  if [ "$est" -gt "$C_BEST_EST" ]; then C_BEST_EST=$est; fi
  [ "$n" = "$CONNS" ] && C_BPC=$bpc
  [ "$n" != "$CONNS" ] && C_BPC_MORE="; $bpc B at $(grp "$est")"
  result "$(grp "$est") established; server RSS $((base / 1024)) MiB before, $((peak / 1024)) MiB" \
    "at the count, peak (VmHWM) $((hwm / 1024)) MiB: $bpc bytes of peak RSS per connection" \
    "(generator: peak $((ghwm / 1024)) MiB in all, $gbpc per connection); ${elapsed}s to open;" \
    "gen errors $errs"
  IDLE_SRV_BPC=$bpc IDLE_GEN_BPC=$gbpc
}
if has conns; then
  idle_run "$CONNS"
  if [ "$MAX_CONNS" -gt "$CONNS" ]; then
    # How far toward MAX_CONNS fits in 60% of the memory available now (both processes; the
    # machine is shared).
    avail_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
    per=$((IDLE_SRV_BPC + IDLE_GEN_BPC))
    fit=$(calc '%.0f' 'p > 0 ? a * 1024 * 0.6 / p : 0' a="$avail_kb" p="$per")
    next=$(((fit < MAX_CONNS ? fit : MAX_CONNS) / 1000000 * 1000000))
    log "memory available $((avail_kb / 1024)) MiB; at $per bytes per connection (both sides)" \
      "60% of it holds $(si "$fit"): next try $(si "$next")"
    if [ "$next" -gt "$CONNS" ]; then
      idle_run "$next"
    else
      note "step 5 stayed at $(si "$CONNS") connections: $(si "$MAX_CONNS") would not fit in 60% of the available memory ($((avail_kb / 1024)) MiB at $per B per connection for server + generator)"
    fi
  fi
fi

# ---- 6: latency at 10/50/90 % of the echo maximum ---------------------------------------------
L_ROWS=() L_P99_50=0
if has latency; then
  if [ "$(calc '%d' 'r > 0' r="$E_RPS")" = 1 ]; then
    r10=$(calc '%.0f' 'r * 0.1' r="$E_RPS") r50=$(calc '%.0f' 'r * 0.5' r="$E_RPS")
    r90=$(calc '%.0f' 'r * 0.9' r="$E_RPS")
    step "[6/7] echo latency at 10/50/90% of $(si "$E_RPS") requests/s" \
      "($(si "$r10"), $(si "$r50"), $(si "$r90")), ${SECS}s each"
    sc=$TMP/latency.toml
    scenario scripts/scenarios/bench-latency.toml "$sc" DURATION="\"${SECS}s\"" \
      RATE10="$r10" RATE50="$r50" RATE90="$r90"
    start_server latency
    run_gen latency "$sc" 7 --ip "$GEN_IP/16" || true
    stop_server
    for p in 10 50 90; do
      ph=load-$p
      row="$p|$(gen_field latency $ph .requests_per_s)|$(gen_field latency $ph .latency_us.p50)|$(gen_field latency $ph .latency_us.p99)|$(gen_field latency $ph .latency_us.p999)|$(gen_field latency $ph .lagged)|$(gen_errors latency $ph)"
      L_ROWS+=("$row")
      IFS='|' read -r _ lr l50 l99 l999 lag lerr <<<"$row"
      [ "$p" = 50 ] && L_P99_50=$l99
      result "$p%: $(si "$lr") requests/s, p50 $l50 µs, p99 $l99 µs, p99.9 $l999 µs (lagged $lag, errors $lerr)"
    done
  else
    note "step 6 skipped: it needs step 2's maximum rate (run with --steps including echo)"
  fi
fi

# ---- 7: the kernel as the alternative ---------------------------------------------------------
K_ROWS=() K_KERNEL=0 K_NGINX=
# criterion's estimates (lib/criterion.sh) -> "name|elements/s|low|high" for every benchmark of
# the bench target: the median and its 95% confidence interval.
crit_eps() { # STAMP BENCH
  local ids
  mapfile -t ids < <(crit_list "$2")
  [ ${#ids[@]} -gt 0 ] || return 1
  crit_rows "$1" "${ids[@]}" |
    awk -F'|' '{ n = $5 > 0 ? $5 : 1; printf "%s|%.0f|%.0f|%.0f\n", $1, n * 1e9 / $3, n * 1e9 / $4, n * 1e9 / $2 }'
}
if has kernel; then
  step "[7/7] the kernel as the alternative"
  if [ -f benches/benches/short_txn.rs ] && [ -f benches/benches/kernel_txn.rs ]; then
    ct=(--warm-up-time 1 --measurement-time "$([ "$QUICK" = 1 ] && echo 2 || echo 5)" --noplot)
    for b in short_txn kernel_txn; do
      log "cargo bench -p tcpterm-benches --bench $b -- ${ct[*]}   (in memory, one thread)"
      touch "$TMP/$b.stamp"
      sleep 1
      if bg_wait nice -n "$NICE" cargo bench -q -p tcpterm-benches --bench "$b" -- "${ct[@]}" \
        >"$TMP/$b.txt" 2>&1 && crit_eps "$TMP/$b.stamp" "$b" >"$TMP/$b.rows" 2>>"$TMP/$b.txt"; then
        while IFS='|' read -r name eps lo hi; do
          K_ROWS+=("$name|$eps|$lo|$hi")
          result "$name: $(si "$eps") transactions/s ($(si "$lo")-$(si "$hi"))"
          [ "$b" = kernel_txn ] && K_KERNEL=$eps
        done <"$TMP/$b.rows"
      else
        note "cargo bench --bench $b failed: $(tail -1 "$TMP/$b.txt")"
      fi
    done
  else
    note "benches/benches/{short_txn,kernel_txn}.rs not present: no in-memory engine vs kernel figure"
  fi
  if [ -f scripts/bench/vs-nginx.sh ]; then
    # Its knobs are environment variables, some with the same names as ours: set them all.
    vs=(SRV_CORE="$SRV_CORE" CLI_CORE="$GEN_CORE" CONNS=100 BODY=128 AB_C=50)
    if [ "$QUICK" = 1 ]; then vs+=(ROUNDS=1 DURATION=3s AB_N=5000); else vs+=(ROUNDS=2 DURATION=10s AB_N=20000); fi
    log "${vs[*]} scripts/bench/vs-nginx.sh   (wrk and ab against tcpterm, then nginx-light, over veth)"
    if bg_wait env "${vs[@]}" nice -n "$NICE" bash scripts/bench/vs-nginx.sh --out "$TMP/vs-nginx.md" \
      >"$TMP/vs-nginx.txt" 2>&1 && [ -s "$TMP/vs-nginx.md" ]; then
      K_NGINX=$TMP/vs-nginx.md
      nrow() { grep -F "$1" "$K_NGINX" | head -1 | awk -F'|' '{gsub(/ /, "", $3); gsub(/ /, "", $4); print $3 " vs " $4}'; }
      result "wrk requests/s, tcpterm vs nginx: $(nrow 'wrk -t2')"
      result "ab connections/s, tcpterm vs nginx: $(nrow 'ab -n')"
    else
      note "scripts/bench/vs-nginx.sh failed: $(tail -1 "$TMP/vs-nginx.txt")"
    fi
  else
    note "scripts/bench/vs-nginx.sh not present: no wrk/ab vs nginx-light figures in this run"
  fi
fi

# ---- report -----------------------------------------------------------------------------------
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
step "writing $MD and plots in $PLOTS/"
verdict() { # VALUE OP TARGET -> met/missed
  [ "$(calc '%d' "v $2 t" v="$1" t="$3")" = 1 ] && echo met || echo "**missed**"
}
{
  echo "# Benchmark results $NAME"
  echo
  echo "\`scripts/bench/run.sh$([ "$QUICK" = 1 ] && echo ' --quick')$([ "$STEPS" != ceiling,echo,short,bulk,conns,latency,kernel ] && echo " --steps $STEPS")\`" \
    "($([ "$WIRE" = nic ] && echo "via scripts/bench/nic.sh" || echo "memif"))"
  echo
  echo "- Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))," \
    "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(uname -r)"
  echo "- Wire: $WIRE_DESC. Server: \`tcpterm serve\`, one worker on core $SRV_CORE." \
    "Generator: \`tcpterm gen\` (same engine), one worker on core $GEN_CORE."
  echo "- Settings: SECS=$SECS ROUNDS=$ROUNDS CONNS=$CONNS MAX_CONNS=$MAX_CONNS CONN_RATE=$CONN_RATE" \
    "SRV_CORE=$SRV_CORE GEN_CORE=$GEN_CORE NICE=$NICE."
  echo "- ${SECS}s per measurement, $ROUNDS alternating ceiling/echo round(s), medians over rounds;" \
    "server figures are medians of its per-second \`tcpterm stat\` rates."
  echo "- Priority: autogroup nice $NICE. Load average at start $LOAD_START, at end $LOAD_END" \
    "(other processes share these cores: absolute figures are noisy, ratios from the same run less so)."
  echo "- Commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- stack server 2>/dev/null || echo ' (with local changes)')"
  echo
  echo "## Targets"
  echo
  echo "| target | measured | |"
  echo "| --- | --- | --- |"
  if has ceiling && has echo; then
    echo "| persistent echo ≥ 70% of the wire's testpmd ceiling | $E_FRAC% (server rx packets/s / testpmd forwarded packets/s, median of the rounds' ratios) | $(verdict "$E_FRAC" '>=' 70) |"
  fi
  if has short; then
    echo "| ≥ 500,000 short HTTP transactions/s on one server core | $(grp "$(calc '%d' 'int(c)' c="$S_CPS")")/s | $(verdict "$S_CPS" '>=' 500000) |"
  fi
  if has conns; then
    echo "| peak RSS ≤ 512 B per idle established connection (server process; the engine's heap per connection is a separate target, \`scripts/bench/engine.sh\`) | $C_BPC B (server peak RSS, VmHWM, growth / connections at $(grp "$CONNS")$C_BPC_MORE) | $(verdict "$C_BPC" '<=' 512) |"
    echo "| 10 million concurrent connections on one machine | $(grp "$C_BEST_EST") established (server and generator on one machine) | $(verdict "$C_BEST_EST" '>=' 10000000) |"
  fi
  if has latency && [ ${#L_ROWS[@]} -gt 0 ]; then
    echo "| p99 echo latency < 10 µs at 50% load | $L_P99_50 µs | $(verdict "$L_P99_50" '<' 10) |"
  fi
  echo
  if has ceiling || has echo; then
    echo "## 1–2. Wire ceiling and persistent echo (64 B)"
    echo
    echo "| round | testpmd $FWD_MODE forwarded pps | flowgen echoed pps | echo: server rx pps | server tx pps | generator requests/s | echo / ceiling |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for ((i = 0; i < ROUNDS; i++)); do
      echo "| $((i + 1)) | $(si "${CEIL_FWD_R[$i]:-0}") | $(si "${CEIL_ECHO_R[$i]:-0}") | $(si "${E_RX_R[$i]:-0}") | $(si "${E_TX_R[$i]:-0}") | $(si "${E_RPS_R[$i]:-0}") | ${E_FRAC_R[$i]:-–}% |"
    done
    echo "| **median** | **$(si "$CEIL_FWD")** | $(si "$CEIL_ECHO") | **$(si "$E_RX")** | $(si "$E_TX") | **$(si "$E_RPS")** | **$E_FRAC%** |"
    echo
    echo "Echo as a fraction of the ceiling: server received packets/s over testpmd's forwarded" \
      "packets/s, $E_FRAC% (median of the rounds' ratios; of the medians: $E_FRAC_OF_MEDIANS%;" \
      "generator requests/s over the ceiling: $E_RFRAC%). One 64 B request is one frame each way." \
      "Errors counted by the generator:" \
      "$([ "$E_ERR" = 0 ] && echo none || echo 'yes, see the logs')."
    echo
    echo "![ceiling and echo](${NAME}/echo.png)"
    echo
  fi
  if has short; then
    echo "## 3. Short HTTP transactions"
    echo
    echo "Connect, \`GET\`, 128 B body, client closes (FIN); 512 in flight; one server core."
    echo
    echo "| generator transactions/s | server new connections/s | p99 transaction | errors |"
    echo "| --- | --- | --- | --- |"
    echo "| $(si "$S_CPS") | $(si "$S_SRV_CPS") | $S_P99 µs | $S_ERR |"
    echo
  fi
  if has bulk; then
    echo "## 4. Bulk echo"
    echo
    echo "| connections | to the server, Gbit/s | back, Gbit/s | errors |"
    echo "| --- | --- | --- | --- |"
    echo "| 1 | $B1_TX | $B1_RX | $B_ERR1 |"
    echo "| 16 | $B16_TX | $B16_RX | $B_ERR16 |"
    echo
    echo "Segments the server dropped (all reasons, both phases): ${B_DROPS:-?}."
    echo
    echo "![bulk](${NAME}/bulk.png)"
    echo
  fi
  if has conns; then
    echo "## 5. Idle established connections and memory"
    echo
    echo "| asked | established (server) | server peak RSS growth / conn, B | generator peak RSS / conn, B | server peak RSS (VmHWM), MiB | server RSS at the count, MiB | generator errors | seconds to open |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    for row in "${C_ROWS[@]}"; do
      IFS='|' read -r a e b gb hwm er el rss <<<"$row"
      echo "| $(grp "$a") | $(grp "$e") | $b | $gb | $hwm | $rss | $er | $el |"
    done
    echo
    echo "Server bytes per connection: growth of its peak RSS (VmHWM in /proc/PID/status, read" \
      "once the count settled, before the teardown) over its RSS before the generator started," \
      "divided by its ESTABLISHED count, rounded up. The peak counts what the connection tables" \
      "took while they grew. The generator sizes its tables up front, so its column is its" \
      "whole peak RSS divided by the connections. This is resident memory of the process, not" \
      "the engine's heap per connection (\`scripts/bench/engine.sh\`, \`conn_memory\`)."
    echo
    echo "![memory](${NAME}/memory.png)"
    echo
  fi
  if has latency && [ ${#L_ROWS[@]} -gt 0 ]; then
    echo "## 6. Echo latency under load"
    echo
    echo "Request start to complete echo, seen by the generator (resolution: one generator loop" \
      "iteration); 64 connections, 64 B, paced."
    echo
    echo "| load | requests/s | p50 µs | p99 µs | p99.9 µs | lagged | errors |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for row in "${L_ROWS[@]}"; do
      IFS='|' read -r p lr l50 l99 l999 lag lerr <<<"$row"
      echo "| $p% | $(si "$lr") | $l50 | $l99 | $l999 | $lag | $lerr |"
    done
    echo
    echo "![latency](${NAME}/latency.png)"
    echo
  fi
  if has kernel; then
    echo "## 7. The kernel"
    echo
    if [ ${#K_ROWS[@]} -gt 0 ]; then
      echo "In-memory short transactions on one thread (criterion: \`benches/benches/short_txn.rs\`," \
        "client and server engines in one process, vs \`kernel_txn.rs\`, std::net over loopback" \
        "doing the same steps: connect, 64 B request, 64 B response, client closes)."
      echo
      echo "| benchmark | transactions/s (criterion median) | 95% confidence interval | × the kernel |"
      echo "| --- | --- | --- | --- |"
      for row in "${K_ROWS[@]}"; do
        IFS='|' read -r name eps lo hi <<<"$row"
        echo "| $name | $(si "$eps") | $(si "$lo")–$(si "$hi") | $(calc '%.1f' 'k > 0 ? e / k : 0' e="$eps" k="$K_KERNEL") |"
      done
      echo
    fi
    if [ -n "$K_NGINX" ]; then
      echo "\`scripts/bench/vs-nginx.sh\`, run by the suite (wrk and ab over a veth pair; tcpterm" \
        "through \`net_af_packet\`, then nginx-light on the kernel's stack):"
      echo
      # Its own heading becomes a subsection here.
      sed 's/^## /### /' "$K_NGINX"
      echo
    fi
  fi
  if [ ${#NOTES[@]} -gt 0 ]; then
    echo "## Notes"
    echo
    for n in "${NOTES[@]}"; do echo "- $n"; done
    echo
  fi
} >"$MD"

rounds() { local IFS=/; echo "${*:--}"; } # the rounds' values as the plot tool takes them: a/b/c
if has ceiling || has echo; then
  plot --out "$PLOTS/echo.png" --title "64 B frames: testpmd ceiling vs tcpterm echo" \
    --ylabel "packets/s" --series "testpmd $FWD_MODE forwarded,server received,server sent" \
    "testpmd $FWD_MODE (ceiling)=$(rounds "${CEIL_FWD_R[@]}"),-,-" \
    "tcpterm echo server=-,$(rounds "${E_RX_R[@]}"),$(rounds "${E_TX_R[@]}")"
fi
if has bulk; then
  plot --out "$PLOTS/bulk.png" --title "Bulk echo, Gbit/s each way" --ylabel "Gbit/s" \
    --series "to the server,back" "1 connection=$B1_TX,$B1_RX" "16 connections=$B16_TX,$B16_RX"
fi
if has conns && [ ${#C_ROWS[@]} -gt 0 ]; then
  args=()
  for row in "${C_ROWS[@]}"; do
    IFS='|' read -r a e b gb _ _ _ _ <<<"$row"
    args+=("$(grp "$e") conns=$b,$gb")
  done
  plot --out "$PLOTS/memory.png" --title "Peak RSS (VmHWM) per idle established connection" \
    --ylabel "bytes" --series "server (peak RSS growth),generator (whole peak RSS)" \
    --target "512:server target" --better lower "${args[@]}"
fi
if has latency && [ ${#L_ROWS[@]} -gt 0 ]; then
  args=()
  for row in "${L_ROWS[@]}"; do
    IFS='|' read -r p _ l50 l99 l999 _ _ <<<"$row"
    args+=("$p% load=$l50,$l99,$l999")
  done
  plot --out "$PLOTS/latency.png" --title "Echo latency (µs) at 10/50/90% of the maximum rate" \
    --ylabel "µs" --log --series "p50,p99,p99.9" --target "10:p99 target at 50%" --better lower \
    "${args[@]}"
fi
# One chart for the targets: each figure as a percentage of its target (100% = just met;
# for "at most" targets, target / measured).
args=()
if has ceiling && has echo; then
  r=()
  for f in "${E_FRAC_R[@]}"; do r+=("$(calc '%.6f' 'f / 70 * 100' f="$f")"); done
  args+=("echo/ceiling=$(rounds "${r[@]}")")
fi
# Six decimals here: the plot tool rounds its labels toward the miss side, so 99.99% never
# prints as 100.
has short && args+=("HTTP txn/s=$(calc '%.6f' 'c / 500000 * 100' c="$S_CPS")")
has conns && args+=("peak RSS/conn=$(calc '%.6f' 'b > 0 ? 512 / b * 100 : 0' b="$C_BPC")") &&
  args+=("conns=$(calc '%.6f' 'e / 1e7 * 100' e="$C_BEST_EST")")
has latency && [ ${#L_ROWS[@]} -gt 0 ] && args+=("p99 @50%=$(calc '%.6f' 'l > 0 ? 10 / l * 100 : 0' l="$L_P99_50")")
[ ${#args[@]} -gt 0 ] && plot --out "$PLOTS/targets.png" \
  --title "Each figure as % of its target (100% = met)" --ylabel "% of target" \
  --target "100:target" --better higher "${args[@]}"
if [ -n "$PLOT" ]; then
  sed -i "0,/^## Targets/s||## Targets\n\n![targets]($NAME/targets.png)|" "$MD"
fi
log "done: $MD"
ls "$PLOTS" | sed 's/^/    /'
