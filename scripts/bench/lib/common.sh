# Helpers for scripts/bench/run.sh (sourced). Expects: TMP (scratch dir), TT (tcpterm binary),
# SRV_CORE/GEN_CORE, SRV_WIRE/GEN_WIRE (EAL arguments naming each side's port), NICE.

PIDS=()     # everything we started, killed by pid on exit
PREFIXES=() # EAL --file-prefix values, whose /var/run/dpdk directories we remove

log() { printf '%s %s\n' "$(date +%T)" "$*"; }
step() { printf '\n%s == %s\n' "$(date +%T)" "$*"; }
result() { printf '%s    -> %s\n' "$(date +%T)" "$*"; }

# Median of numbers on stdin (0 when there are none).
median() {
  sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else print a[int((NR+1)/2)]}'
}

# Per-second samples taken while traffic flowed: zero samples dropped, then the first and the
# last (partial seconds) too when at least three remain.
steady_median() {
  awk '$1 > 0' | awk '{a[NR]=$1} END {for (i=1;i<=NR;i++) if (NR<3 || (i>1 && i<NR)) print a[i]}' |
    median
}

# awk arithmetic, printed with the given format: calc '%.1f' '100 * a / b' a=1 b=2
calc() {
  local fmt=$1 expr=$2
  shift 2
  local vars=()
  for kv in "$@"; do vars+=(-v "$kv"); done
  awk "${vars[@]}" "BEGIN { printf \"$fmt\", ($expr) }"
}

# 1234567 -> 1.23M, cut toward zero, never rounded up (9,999,085 -> 9.99M, not 10.00M), as
# the plot tool's labels are
si() {
  awk -v v="$1" 'BEGIN {
    a = v < 0 ? -v : v
    if (a >= 1e9) printf "%.2fG", int(v / 1e7) / 100
    else if (a >= 1e6) printf "%.2fM", int(v / 1e4) / 100
    else if (a >= 1e4) printf "%.1fk", int(v / 100) / 10
    else printf "%d", int(v) }'
}

# 9999910 -> 9,999,910
grp() { echo "$1" | sed -E ':a; s/^([0-9]+)([0-9]{3})/\1,\2/; ta'; }

# Writes a scenario with the lines tagged `# @KEY` set to new values:
#   scenario SRC DST DURATION='"3s"' RATE=1000
scenario() {
  local src=$1 dst=$2
  shift 2
  cp "$src" "$dst"
  for kv in "$@"; do
    local k=${kv%%=*} v=${kv#*=}
    sed -i -E "s|^([a-z_]+ *= *)[^#]*# @$k\$|\\1$v # @$k|" "$dst"
    grep -q "# @$k\$" "$dst" || { echo "scenario $src has no '# @$k' line" >&2; return 1; }
  done
}

reap() { # $1: pid; waits at most $2 seconds (default 10), then kills it
  local pid=$1 t=${2:-10} i
  for ((i = 0; i < t * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Runs a command in the background and waits for it, so that a signal is handled at once
# (bash runs traps only after a foreground command ends). Returns its exit status.
bg_wait() {
  "$@" &
  local p=$!
  PIDS+=("$p")
  wait "$p"
}

cleanup() {
  local pid
  # SIGTERM: tcpterm and testpmd shut down on it; SIGINT may be ignored by background jobs.
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    reap "$pid" 3
  done
  for p in "${PREFIXES[@]}"; do
    rm -rf "/var/run/dpdk/$p"
  done
  rm -f "$TMP"/*.sock
  if [ -n "${KEEP:-}" ]; then
    echo "logs kept in $TMP"
  else
    rm -rf "$TMP"
  fi
}

# --- tcpterm serve ------------------------------------------------------------------------------

SRV_PID=
SAMPLER_PID=
SRV_N=0

# start_server NAME [serve options...]: starts the server on SRV_CORE, waits until its control
# socket answers, and samples `tcpterm stat --json` once a second into $TMP/NAME.stat.
start_server() {
  local name=$1
  shift
  SRV_N=$((SRV_N + 1))
  local prefix=tt-srv-$$-$SRV_N
  PREFIXES+=("$prefix")
  SRV_CTL=$TMP/ctl-$SRV_N.sock
  SRV_LOG=$TMP/$name.srv.log
  SRV_STAT=$TMP/$name.stat
  : >"$SRV_STAT"
  # A memif server that crashed on its way out (testpmd does, now and then) leaves its socket.
  [ -n "${SOCK:-}" ] && rm -f "$SOCK"
  nice -n "$NICE" "$TT" serve --ip "$SRV_IP/16" --listen 7=echo --listen 80=http \
    --cores "$SRV_CORE" --control-socket "$SRV_CTL" --shutdown-timeout-ms 1000 "$@" \
    -- -l "$SRV_CORE" --file-prefix "$prefix" "${SRV_WIRE[@]}" >"$SRV_LOG" 2>&1 &
  SRV_PID=$!
  PIDS+=("$SRV_PID")
  local i
  for ((i = 0; i < 300; i++)); do
    if "$TT" stat --json --control-socket "$SRV_CTL" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
      echo "tcpterm serve failed to start:" >&2
      tail -5 "$SRV_LOG" >&2
      return 1
    fi
    sleep 0.1
  done
  (while sleep 1; do
    "$TT" stat --json --control-socket "$SRV_CTL" 2>/dev/null | jq -c \
      '{t: .uptime_ms, rx_pps: .total.rates.rx_pps, tx_pps: .total.rates.tx_pps,
        rps: .total.rates.rps, cps: .total.rates.cps, rx_bps: .total.rates.rx_bps,
        tx_bps: .total.rates.tx_bps, est: (.total.states.ESTABLISHED // 0),
        conns: .total.conns, drops: ([.total.drops[]] | add)}' >>"$SRV_STAT" || true
  done) &
  SAMPLER_PID=$!
  PIDS+=("$SAMPLER_PID")
}

stop_server() {
  [ -n "$SAMPLER_PID" ] && { kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; }
  [ -n "$SRV_PID" ] && { kill -INT "$SRV_PID" 2>/dev/null || true; reap "$SRV_PID" 15; }
  SRV_PID= SAMPLER_PID=
}

# The median over the server's per-second samples of one field, counting only samples where
# KEY (default the same field) was above zero: srv_median FIELD [KEY]
srv_median() {
  local f=$1 k=${2:-$1}
  jq -r "select(.$k > 0) | .$f" "$SRV_STAT" | steady_median
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# The process's peak resident size so far (VmHWM), in kB.
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# --- tcpterm gen --------------------------------------------------------------------------------

GEN_N=0
# run_gen NAME SCENARIO PORT [gen options...]: runs the generator to the end; its JSON report
# is $TMP/NAME.json. Returns gen's exit status (3: errors were counted).
run_gen() {
  local name=$1 sc=$2 port=$3
  shift 3
  GEN_N=$((GEN_N + 1))
  local prefix=tt-gen-$$-$GEN_N
  PREFIXES+=("$prefix")
  local rc=0
  nice -n "$NICE" "$TT" gen --scenario "$sc" --target "$SRV_IP:$port" --cores "$GEN_CORE" \
    --json "$TMP/$name.json" "$@" -- -l "$GEN_CORE" --file-prefix "$prefix" "${GEN_WIRE[@]}" \
    >"$TMP/$name.gen.out" 2>"$TMP/$name.gen.err" &
  GEN_PID=$!
  PIDS+=("$GEN_PID")
  wait "$GEN_PID" || rc=$?
  GEN_PID=
  if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
    echo "tcpterm gen failed (exit $rc):" >&2
    tail -5 "$TMP/$name.gen.err" >&2
  fi
  return "$rc"
}

# gen_field NAME PHASE JQ-PATH: one number from a gen report, e.g. gen_field echo echo-max .requests_per_s
gen_field() {
  jq -r --arg p "$2" ".phases[] | select(.name == \$p) | $3" "$TMP/$1.json" 2>/dev/null || echo 0
}

gen_errors() { # NAME PHASE: "0" or "N (kind n, ...)"
  jq -r --arg p "$2" '.phases[] | select(.name == $p) |
    if .errors == 0 then "0" else
      "\(.errors) (" + ([.counts | to_entries[] | select(.value > 0 and
        (.key | IN("conn_attempts","connected","closed","requests","responses","bytes_sent",
                   "bytes_received") | not)) | "\(.key) \(.value)"] | join(", ")) + ")" end' \
    "$TMP/$1.json" 2>/dev/null || echo "no report"
}

# --- dpdk-testpmd (the wire's ceiling) ----------------------------------------------------------

# testpmd_ceiling NAME SECONDS: a reflector (FWD_MODE: macswap on memif, io on a NIC) on
# SRV_CORE and a flowgen generator on GEN_CORE, on the same wire as the suite. Sets
# CEIL_FWD (reflector's forwarded packets/s) and CEIL_ECHO (generator's received packets/s),
# medians of their per-second samples with traffic.
testpmd_ceiling() {
  local name=$1 secs=$2
  SRV_N=$((SRV_N + 1))
  GEN_N=$((GEN_N + 1))
  local rp=tt-srv-$$-$SRV_N gp=tt-gen-$$-$GEN_N
  PREFIXES+=("$rp" "$gp")
  [ -n "${SOCK:-}" ] && rm -f "$SOCK"
  local common=(--stats-period 1 --total-num-mbufs=32768 --burst=32 --txd=1024 --rxd=1024)
  # testpmd needs its main lcore and one forwarding lcore: both on the side's one core.
  nice -n "$NICE" timeout -s INT $((secs + 12)) dpdk-testpmd --lcores "0@$SRV_CORE,1@$SRV_CORE" \
    --file-prefix "$rp" "${SRV_WIRE[@]}" -- --forward-mode="$FWD_MODE" --port-topology=loop \
    "${common[@]}" >"$TMP/$name.refl.log" 2>&1 &
  local refl=$!
  PIDS+=("$refl")
  sleep 3 # EAL loads every PMD plugin at start
  nice -n "$NICE" timeout -s INT $((secs + 4)) dpdk-testpmd --lcores "0@$GEN_CORE,1@$GEN_CORE" \
    --file-prefix "$gp" "${GEN_WIRE[@]}" -- --forward-mode=flowgen "${common[@]}" \
    >"$TMP/$name.flowgen.log" 2>&1 &
  local gen=$!
  PIDS+=("$gen")
  wait "$gen" 2>/dev/null || true
  kill -INT "$refl" 2>/dev/null || true
  reap "$refl" 10
  CEIL_FWD=$(grep -a 'Tx-pps:' "$TMP/$name.refl.log" | awk '{print $2}' | steady_median)
  CEIL_ECHO=$(grep -a 'Rx-pps:' "$TMP/$name.flowgen.log" | awk '{print $2}' | steady_median)
}
