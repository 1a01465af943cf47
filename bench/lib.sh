# shellcheck shell=bash disable=SC2154
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
