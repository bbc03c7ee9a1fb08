# Sourced by the benchmark scripts. Linux autogroups schedule each session as one unit, so
# plain `nice` does nothing against processes of other sessions: `own_autogroup "$0" "$@"`
# re-runs the calling script in a session of its own whose autogroup priority is $NICE
# (NICE=0 turns this off). Returns only in the re-run (or when off).
own_autogroup() {
  if [ "$NICE" != 0 ] && [ -z "${TT_BENCH_INNER:-}" ] && [ -e /proc/self/autogroup ]; then
    export NICE TT_BENCH_INNER=1
    exec setsid -w bash -c 'echo "$NICE" >/proc/self/autogroup 2>/dev/null || true; exec bash "$0" "$@"' \
      "$@"
  fi
}
