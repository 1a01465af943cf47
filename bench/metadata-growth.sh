#!/usr/bin/env bash
# How the metadata grows with data written: one release `silt dev` on the local filesystem
# store, one-record produce requests for a while, then the metadata's snapshot file, its
# Raft log file, the process's RSS and the snapshots it logged.
#
#   bench/metadata-growth.sh SILT_BINARY LOADGEN_BINARY [SECONDS (default 300)] [PORT (default 19940)]
#
# Two binaries so a build from before a change and one after it run the same workload.
# Prints one JSON line per sample (every 30 s) and the snapshot lines of the log at the end:
# openraft logs "build_snapshot" before the state is cloned under the lock and "returning"
# after (their gap is the time apply waited), silt "snapshot saved" once it is encoded and
# written.
# Stops what it started, however it ends.
set -euo pipefail

silt="$1"
loadgen="$2"
seconds="${3:-300}"
port="${4:-19940}"
work="$(mktemp -d "${TMPDIR:-/tmp}/silt-metagrowth.XXXXXX")"
broker="http://127.0.0.1:$port"
silt_pid=""
cleanup() {
  if [ -n "$silt_pid" ]; then
    kill "$silt_pid" 2>/dev/null || true
    wait "$silt_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

env SILT_LOG=info "$silt" dev --data-dir "$work/silt" --listen "127.0.0.1:$port" >"$work/silt.log" 2>&1 &
silt_pid=$!
for _ in $(seq 1 200); do
  curl -sf "$broker/readyz" >/dev/null 2>&1 && break
  sleep 0.05
done

# sample: records written (sum of high watermarks), file sizes, RSS
sample() {
  local records snap log rss
  records=$(curl -sf "$broker/v1/topics/growth" | python3 -c 'import json,sys; print(sum(p["high_watermark"] for p in json.load(sys.stdin)["partitions"]))' 2>/dev/null || echo 0)
  snap=$(stat -c %s "$work"/silt/metadata/snapshots/*.snap 2>/dev/null | tail -1 || echo 0)
  log=$(stat -c %s "$work/silt/metadata/raft-log.redb" 2>/dev/null || echo 0)
  rss=$(awk '/VmRSS/ {print $2 * 1024}' "/proc/$silt_pid/status")
  echo "{\"t\": $1, \"records\": $records, \"snapshot_bytes\": ${snap:-0}, \"raft_log_bytes\": $log, \"rss_bytes\": $rss}"
}

# One record of 100 bytes per request, 16 in flight, 8 partitions: many small segments
# and index entries per record, the metadata's worst case.
"$loadgen" --broker "$broker" produce --topic growth --partitions 8 --record-size 100 \
  --records-per-request 1 --concurrency 16 --seconds "$seconds" >"$work/loadgen.out" 2>&1 &
lg_pid=$!
t=0
while kill -0 "$lg_pid" 2>/dev/null; do
  sleep 30
  t=$((t + 30))
  sample "$t"
done
wait "$lg_pid" || true
sample "$t"
tail -3 "$work/loadgen.out"
grep -E 'snapshot (saved|built)|build_snapshot' "$work/silt.log" | sed -E 's/\x1b\[[0-9;]*m//g' | tail -24
