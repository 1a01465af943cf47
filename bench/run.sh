#!/usr/bin/env bash
# Runs silt's benchmarks on this machine against a real S3-compatible server (SeaweedFS on
# 127.0.0.1, scripts/s3-server.sh) and prints every result as JSON plus a Markdown row.
#
#   bench/run.sh [PRODUCE_SECONDS (default 20)] [OUT.jsonl (default bench/last-run.jsonl)]
#
# Steps, each measured in this one run so every silt figure has its baseline next to it:
#  1. baseline   the object store alone, through silt's own client stack
#  2. latency    one 1 KiB record in flight, produce acknowledgement latency
#  3. e2e        produce -> long-polling consumer latency, one record every 10 ms
#  4. produce    bulk 1 KiB records, 16 requests of 500 in flight (JSON, binary body, SDK),
#                then 48 in flight (saturation)
#  5. consume    catch-up from offset 0 after a broker restart with empty caches (cold),
#                then again (warm: memory and disk tiers)
#  6. mixed      bulk produce while a cold catch-up read runs (cold reads must not starve writes)
#  7. cloud      latency and e2e again with modelled S3 Standard and S3 Express latency
# Stops everything it started, however it ends.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
seconds="${1:-20}"
out="${2:-$root/bench/last-run.jsonl}"
target="${CARGO_TARGET_DIR:-$root/target}"
s3_port="${SILT_BENCH_S3_PORT:-19300}"
broker_port="${SILT_BENCH_PORT:-17070}"
work="$(mktemp -d "${TMPDIR:-/tmp}/silt-bench.XXXXXX")"
broker="http://127.0.0.1:$broker_port"
loadgen="$target/release/silt-loadgen"
: >"$out"

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
trap cleanup EXIT INT TERM

# start_silt [ENV=VALUE...]: a release silt dev on the bench bucket
start_silt() {
  env SILT_LOG=warn "$@" "$target/release/silt" dev --data-dir "$work/silt" \
    --listen "127.0.0.1:$broker_port" --object-store "s3://silt-bench/run" >>"$work/silt.log" 2>&1 &
  silt_pid=$!
  wait_ready "$broker" "$work/silt.log"
}
lg() { "$loadgen" --broker "$broker" --broker-pid "$silt_pid" --json-out "$out" "$@"; }

# The fault-injection feature brings the modelled cloud latencies of step 7
# (storage.simulated_latency); a plain `cargo build --release --bin silt` has no test machinery.
cargo build --release -p silt-broker -p silt-loadgen --features silt-broker/fault-injection
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
# The baseline gets a SeaweedFS instance of its own: it deletes everything it wrote, and
# SeaweedFS's volume vacuum then stalls requests for ~1 s about a minute later, which
# would land in silt's latency steps.
scripts/s3-server.sh start "$s3_port" "$work/s3-baseline" silt-bench
eval "$(scripts/s3-server.sh env "$s3_port")"
echo "== 1. baseline: the object store alone"
"$loadgen" --json-out "$out" baseline --object-store "s3://silt-bench/baseline" --seconds 8
scripts/s3-server.sh stop "$s3_port"
scripts/s3-server.sh start "$s3_port" "$work/s3" silt-bench
start_silt
echo "== 2. single-record produce latency"
lg latency --count 1000
echo "== 3. end-to-end latency"
lg e2e --count 1000 --interval-ms 10
echo "== 4. bulk produce"
lg produce --partitions 8 --record-size 1024 --records-per-request 500 --concurrency 16 --seconds "$seconds"
echo "== 4b. bulk produce, binary body (application/x-silt-records)"
lg produce --topic loadgen-binary --partitions 8 --record-size 1024 --records-per-request 500 --concurrency 16 --seconds "$seconds" --format binary
echo "== 4c. bulk produce through the Rust SDK (silt_sdk::Producer)"
lg produce --topic loadgen-sdk --partitions 8 --record-size 1024 --records-per-request 500 --concurrency 16 --seconds 10 --client sdk
echo "== 4d. bulk produce at saturation (48 requests in flight)"
lg produce --topic loadgen-saturation --partitions 8 --record-size 1024 --records-per-request 500 --concurrency 48 --seconds "$seconds"
echo "== 5a. catch-up consume, cold (broker restarted, memory and disk caches empty)"
stop_silt
rm -rf "$work/silt/cache"
start_silt
lg consume --concurrency 8
echo "== 5b. catch-up consume, warm"
lg consume --concurrency 8
echo "== 6. bulk produce while a cold catch-up read runs"
stop_silt
rm -rf "$work/silt/cache"
start_silt
lg consume --concurrency 8 >"$work/mixed-consume.log" 2>&1 &
consume_pid=$!
lg produce --topic loadgen-mixed --partitions 8 --record-size 1024 --records-per-request 500 --concurrency 16 --seconds 10
wait "$consume_pid" || true
tail -n 1 "$work/mixed-consume.log"
for model in s3-standard s3-express; do
  echo "== 7. cloud estimate: $model"
  stop_silt
  start_silt SILT_STORAGE_SIMULATED_LATENCY="$model"
  lg latency --topic "latency-$model" --count 300
  lg e2e --topic "e2e-$model" --count 300 --interval-ms 20
done
echo "== results appended to $out"
