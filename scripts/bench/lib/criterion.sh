# Criterion figures read from the JSON files it writes, not from its text output (sourced by
# scripts/bench/engine.sh and run.sh). Needs jq and cargo.
#
#   crit_dir                 where criterion writes: $CRITERION_HOME, else <target dir>/criterion
#   crit_list BENCH          the ids (group/function) a bench target defines (`-- --list`)
#   crit_rows STAMP ID...    one line per id: "id|lo|median|hi|elements|bytes", the median time
#                            per iteration in ns and its confidence interval (criterion's default
#                            95%), from <dir>/<group>/<bench>/new/estimates.json; elements and
#                            bytes: the iteration's throughput (0 where not set). Only files
#                            newer than the file STAMP count: a missing or stale id fails (1).

crit_dir() {
  if [ -n "${CRITERION_HOME:-}" ]; then
    echo "$CRITERION_HOME"
    return
  fi
  local t
  t=$(cargo metadata --format-version 1 --no-deps 2>/dev/null | jq -r .target_directory) || t=
  echo "${t:-target}/criterion"
}

crit_list() {
  local ids
  ids=$(cargo bench -q -p tcpterm-benches --bench "$1" -- --list 2>/dev/null |
    sed -n 's/: benchmark$//p') || true
  if [ -z "$ids" ]; then
    echo "crit_list: cargo bench --bench $1 -- --list named no benchmarks" >&2
    return 1
  fi
  echo "$ids"
}

crit_rows() {
  local stamp=$1 dir index id bdir missing=0
  shift
  dir=$(crit_dir)
  # full_id -> directory, for every benchmark written since the stamp.
  index=$(find "$dir" -path '*/new/benchmark.json' -newer "$stamp" -print0 2>/dev/null |
    xargs -0 -r jq -r '[.full_id, (input_filename | sub("/benchmark.json$"; ""))] | @tsv')
  for id in "$@"; do
    bdir=$(awk -F'\t' -v id="$id" '$1 == id { print $2; exit }' <<<"$index")
    if [ -z "$bdir" ] || [ ! "$bdir/estimates.json" -nt "$stamp" ]; then
      echo "crit_rows: no estimates for $id from this run under $dir" >&2
      missing=1
      continue
    fi
    jq -r --arg id "$id" --slurpfile b "$bdir/benchmark.json" \
      '.median as $m | ($b[0].throughput // {}) as $t |
       [$id, $m.confidence_interval.lower_bound, $m.point_estimate,
        $m.confidence_interval.upper_bound, ($t.Elements // 0), ($t.Bytes // 0)] | map(tostring) | join("|")' \
      "$bdir/estimates.json"
  done
  return "$missing"
}
