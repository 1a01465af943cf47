#!/usr/bin/env bash
# What consumer groups cost, on this machine against a real S3-compatible server (SeaweedFS
# on 127.0.0.1, scripts/s3-server.sh) and one `silt dev` on it:
#  1. group  `silt-loadgen group`: 3 members on a 12-partition topic; offset-commit latency
#            while consuming and back to back; the time of a rebalance (a member joining a
#            group of 2, leaving gracefully, vanishing until its session timeout) until every
#            member reads again, with the partitions moved; records/s, duplicates, gaps
#  2. eos    `silt-loadgen eos`: an exactly-once produce (records + an offset commit in one
#            Raft entry) against the same idempotent produce without the commit, alternating
# and prints a Markdown block for bench/RESULTS.md. Stops everything it started.
#
#   bench/group-cost.sh [ROUNDS (default 5)] [RECORDS_PER_PARTITION (default 20000)] [EOS_COUNT (default 500)]
#
# Environment (not SILT_*: `silt` refuses unknown SILT_ variables): GROUP_COST_PROFILE=release (default) or debug (to try the script quickly;
# debug figures are not benchmarks), GROUP_COST_S3_PORT (19310), GROUP_COST_PORT (17080),
# GROUP_COST_SESSION_TIMEOUT_MS (6000; the vanish scenario waits for it),
# GROUP_COST_HEARTBEAT_MS (default a third of the session timeout).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
rounds="${1:-5}" records="${2:-20000}" eos_count="${3:-500}"
profile="${GROUP_COST_PROFILE:-release}"
session_ms="${GROUP_COST_SESSION_TIMEOUT_MS:-6000}"
heartbeat_ms="${GROUP_COST_HEARTBEAT_MS:-$((session_ms / 3))}"
target="${CARGO_TARGET_DIR:-$root/target}"
s3_port="${GROUP_COST_S3_PORT:-19310}"
broker_port="${GROUP_COST_PORT:-17080}"
broker="http://127.0.0.1:$broker_port"
work="$(mktemp -d "${TMPDIR:-/tmp}/silt-group-cost.XXXXXX")"
out="$work/results.jsonl"
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
trap cleanup EXIT INT TERM

build_and_start_s3 "$profile" GROUP_COST_PROFILE
env SILT_LOG=warn "$bin/silt" dev --data-dir "$work/silt" --listen "127.0.0.1:$broker_port" \
  --object-store "s3://silt-bench/group-cost" >>"$work/silt.log" 2>&1 &
silt_pid=$!
wait_ready "$broker" "$work/silt.log"

lg() { "$bin/silt-loadgen" --broker "$broker" --broker-pid "$silt_pid" --json-out "$out" "$@"; }
echo "== 1. group: commits, rebalances, consumption (3 members, 12 partitions)" >&2
lg group --partitions 12 --members 3 --records "$records" --rounds "$rounds" \
  --session-timeout-ms "$session_ms" --heartbeat-ms "$heartbeat_ms" >"$work/group.out"
echo "== 2. eos: exactly-once produce against a plain idempotent one" >&2
lg eos --count "$eos_count" --records-per-request 10 --record-size 1024 >"$work/eos.out"

commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
cat <<MD

## $(date -u +%Y-%m-%d) — consumer-group costs (bench/group-cost.sh $rounds $records $eos_count)

\`bench/group-cost.sh $rounds $records $eos_count\` at $commit ($profile build; $(nproc) cores,
$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); SeaweedFS on
127.0.0.1, one \`silt dev\` on it, broker, SeaweedFS and loadgen sharing the machine). Sticky
assignor, session timeout $session_ms ms, heartbeat every $heartbeat_ms ms: a rebalance is
timed from the event to the moment every partition is assigned once in the new generation
and every member has fetched from each of its partitions, so members learn of it within
one heartbeat period (a vanished member only after its session timeout).

| measurement | | | |
|---|---|---|---|
$(grep -h '^|' "$work/group.out" "$work/eos.out")
MD
