#!/usr/bin/env bash
# What the garbage collector costs produce latency, on this machine against a real
# S3-compatible server (SeaweedFS on 127.0.0.1, scripts/s3-server.sh) and one `silt dev`:
# each round fills a topic with FILL one-record produce requests (one segment object each),
# then sets its retention to 1 s so that every one of those objects is released at once,
# and measures single-record produce latency (`silt-loadgen latency`, COUNT records) on
# another topic while the sweeper deletes them (gc.interval 1 s, at most 1,000 deletes a
# second), against the same with the sweeper off (gc.interval 1 h). Rounds alternate
# sweeper on and off, each on a fresh `silt dev`. Prints a Markdown block for
# bench/RESULTS.md, with the objects deleted during each measurement (from /metrics).
#
#   bench/gc-cost.sh [ROUNDS (default 2)] [FILL (default 20000)] [COUNT (default 4000)]
#
# Environment (not SILT_*: `silt` refuses unknown SILT_ variables): GC_COST_PROFILE=release
# (default) or debug (to try the script; debug figures are not benchmarks), GC_COST_S3_PORT
# (19330), GC_COST_PORT (17090). Stops everything it started.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
rounds="${1:-2}" fill="${2:-20000}" count="${3:-4000}"
profile="${GC_COST_PROFILE:-release}"
target="${CARGO_TARGET_DIR:-$root/target}"
s3_port="${GC_COST_S3_PORT:-19330}"
broker_port="${GC_COST_PORT:-17090}"
broker="http://127.0.0.1:$broker_port"
work="$(mktemp -d "${TMPDIR:-/tmp}/silt-gc-cost.XXXXXX")"
out="$work/results.jsonl"
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
trap cleanup EXIT INT TERM

build_and_start_s3 "$profile" GC_COST_PROFILE

start_silt() { # start_silt ROUND GC_INTERVAL
  env SILT_LOG=warn SILT_RETENTION_CHECK_INTERVAL=1s SILT_GC_INTERVAL="$2" SILT_GC_GRACE=1s \
    SILT_SERVER_REQUEST_TIMEOUT=1s SILT_BACKUP_INTERVAL=1s \
    "$bin/silt" dev --data-dir "$work/silt-$1" --listen "127.0.0.1:$broker_port" \
    --object-store "s3://silt-bench/gc-cost-$1" >>"$work/silt.log" 2>&1 &
  silt_pid=$!
  wait_ready "$broker" "$work/silt.log"
}
deleted() { curl -sf "$broker/metrics" | awk '/^silt_gc_deleted_objects_total/ {print $2}'; }

results=()
for round in $(seq 1 "$rounds"); do
  for mode in on off; do
    interval=1s
    [ "$mode" = off ] && interval=1h
    start_silt "$round-$mode" "$interval"
    "$bin/silt" topic create fill --partitions 1 --broker "$broker" >/dev/null
    "$bin/silt-loadgen" --broker "$broker" latency --topic fill --count "$fill" --record-size 100 >/dev/null
    "$bin/silt" topic alter fill --retention-ms 1000 --broker "$broker" >/dev/null
    sleep 2 # retention releases them (1 s checks); the sweeper starts deleting
    before="$(deleted)"
    "$bin/silt-loadgen" --broker "$broker" --broker-pid "$silt_pid" --json-out "$out" \
      latency --topic measure --count "$count" >"$work/latency-$round-$mode.out"
    after="$(deleted)"
    summary="$(tail -n 1 "$out")"
    results+=("$mode|$round|$((after - before))|$summary")
    echo "round $round, sweeper $mode: $((after - before)) objects deleted during the measurement" >&2
    stop_silt
  done
done

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo
echo "## $(date -u +%Y-%m-%d) — produce latency with the garbage collector sweeping (bench/gc-cost.sh $rounds $fill $count)"
echo
echo "\`bench/gc-cost.sh $rounds $fill $count\` at $commit ($profile build; $(nproc) cores, $(uname -sr);"
echo "SeaweedFS on 127.0.0.1, one \`silt dev\` on it, everything sharing the machine)."
echo
echo "| round | sweeper | objects deleted during the measurement | p50 ms | p99 ms | p999 ms | max ms |"
echo "|---|---|---|---|---|---|---|"
for line in "${results[@]}"; do
  IFS='|' read -r mode round deleted_count summary <<<"$line"
  python3 - "$mode" "$round" "$deleted_count" "$summary" <<'PY'
import json, sys
mode, round_, deleted, summary = sys.argv[1:]
s = json.loads(summary)
lat = s.get("latency") or {}
def g(k):
    v = lat.get(k + "_ms")
    return "?" if v is None else f"{v:.2f}"
print(f"| {round_} | {mode} | {deleted} | {g('p50')} | {g('p99')} | {g('p999')} | {g('max')} |")
PY
done
