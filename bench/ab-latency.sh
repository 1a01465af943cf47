#!/usr/bin/env bash
# A/B of the two latency steps of bench/run.sh (single-record produce; produce -> long-polling
# consumer) between two release builds, alternating A and B each round so that drift of the
# machine or the store lands on both: each run gets a fresh `silt dev` over one SeaweedFS.
#
#   bench/ab-latency.sh A_RELEASE_DIR B_RELEASE_DIR [ROUNDS]
#
# Each directory holds `silt` and `silt-loadgen` (a `target/release`), built with
#   cargo build --release -p silt-broker -p silt-loadgen --features silt-broker/fault-injection
# e.g. from a `git worktree` of the older commit with its own CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,10p' "$0"; exit 2; }
a="$1" b="$2" rounds="${3:-3}"
port="${SILT_AB_S3_PORT:-19880}" broker_port="${SILT_AB_BROKER_PORT:-19870}"
work="$(mktemp -d)" pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  scripts/s3-server.sh stop "$port" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
scripts/s3-server.sh start "$port" "$work/s3" silt-bench >/dev/null
eval "$(scripts/s3-server.sh env "$port")"
broker="http://127.0.0.1:$broker_port"
for round in $(seq 1 "$rounds"); do
  for side in A B; do
    bin="$a"; [ "$side" = B ] && bin="$b"
    rm -rf "$work/silt"
    SILT_LOG=warn "$bin/silt" dev --data-dir "$work/silt" --listen "127.0.0.1:$broker_port" \
      --object-store "s3://silt-bench/ab-$side-$round" >>"$work/silt.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do curl -sf "$broker/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
    "$bin/silt-loadgen" --broker "$broker" latency --topic "l$round" --count 1000 |
      grep '^|' | sed "s/^/round $round $side: /"
    "$bin/silt-loadgen" --broker "$broker" e2e --topic "e$round" --count 1000 --interval-ms 10 |
      grep '^|' | sed "s/^/round $round $side: /"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  done
done
