# shellcheck shell=bash disable=SC2154,SC2034
# What the bench scripts share; `source` it after setting `s3_port` and `work`.
#   stop_silt            stops the silt started last ($silt_pid), if any
#   cleanup              stops silt and the script's SeaweedFS, removes $work (the EXIT trap)
#   wait_ready URL LOG   waits up to 10 s for URL/readyz; prints LOG and fails otherwise
silt_pid=""

stop_silt() {
  if [ -n "$silt_pid" ]; then
    kill "$silt_pid" 2>/dev/null || true
    wait "$silt_pid" 2>/dev/null || true
    silt_pid=""
  fi
}

cleanup() {
  stop_silt
  scripts/s3-server.sh stop "$s3_port" >/dev/null 2>&1 || true
  rm -rf "$work"
}

wait_ready() {
  for _ in $(seq 1 200); do
    curl -sf "$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  cat "$2"
  return 1
}

# build_and_start_s3 PROFILE VARIABLE: builds silt and silt-loadgen (`release`, or `debug`:
# the workspace's own debug build, the one scripts/test.sh makes, so nothing rebuilds),
# sets $bin to their directory, then starts the script's SeaweedFS and exports its AWS_*
# variables. VARIABLE names the setting in the error for another profile.
build_and_start_s3() {
  case "$1" in
    release) cargo build --release -p silt-broker -p silt-loadgen; bin="$target/release" ;;
    debug) cargo build --workspace --bins; bin="$target/debug" ;;
    *) echo "$2 must be release or debug, not '$1'" >&2; exit 2 ;;
  esac
  scripts/s3-server.sh start "$s3_port" "$work/s3" silt-bench >/dev/null
  eval "$(scripts/s3-server.sh env "$s3_port")"
}
