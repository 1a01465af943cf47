#!/usr/bin/env bash
# Runs silt's end-to-end benchmarks on this machine against a real S3-compatible server:
# starts SeaweedFS (scripts/s3-server.sh) and a release `silt dev` on it, then runs
# silt-loadgen's latency, produce and consume modes. Prints each mode's JSON and its
# Markdown row for bench/RESULTS.md. Stops everything it started, however it ends.
#
#   bench/run.sh [produce seconds (default 20)]
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-20}"
target="${CARGO_TARGET_DIR:-$root/target}"
s3_port="${SILT_BENCH_S3_PORT:-19300}"
broker_port="${SILT_BENCH_PORT:-17070}"
work="$(mktemp -d "${TMPDIR:-/tmp}/silt-bench.XXXXXX")"
silt_pid=""

cleanup() {
  [ -z "$silt_pid" ] || kill "$silt_pid" 2>/dev/null || true
  [ -z "$silt_pid" ] || wait "$silt_pid" 2>/dev/null || true
  scripts/s3-server.sh stop "$s3_port" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

cargo build --release -p silt-broker -p silt-loadgen
scripts/s3-server.sh start "$s3_port" "$work/s3" silt-bench
eval "$(scripts/s3-server.sh env "$s3_port")"

SILT_LOG=warn "$target/release/silt" dev --data-dir "$work/silt" \
  --listen "127.0.0.1:$broker_port" --object-store "s3://silt-bench/run" >"$work/silt.log" 2>&1 &
silt_pid=$!
broker="http://127.0.0.1:$broker_port"
for _ in $(seq 1 100); do
  curl -sf "$broker/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf "$broker/readyz" >/dev/null || { cat "$work/silt.log"; exit 1; }

loadgen="$target/release/silt-loadgen"
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "== commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "== single-record produce latency"
"$loadgen" --broker "$broker" latency --count 500
echo "== bulk produce"
"$loadgen" --broker "$broker" produce --partitions 8 --record-size 1024 --records-per-request 500 --concurrency 16 --seconds "$seconds"
echo "== catch-up consume"
"$loadgen" --broker "$broker" consume --concurrency 8
echo "== broker object-store counters"
curl -s "$broker/metrics" | grep -E '^silt_(object_store|segments_uploaded|commit_batch_segments_(sum|count))' || true
