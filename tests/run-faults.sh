#!/usr/bin/env bash
# The long fault run: many seeded fault schedules, each on a fresh local cluster (3 metadata
# nodes, 3 brokers, through infra/local-cluster.sh) with producers and consumers running
# throughout, every history checked. Starts SeaweedFS through scripts/s3-server.sh, builds
# `silt` and the runner, and stops the server however the run ends.
#
#   tests/run-faults.sh [N] [silt-faults args…]     N seeds from a random first seed (default 20)
#   tests/run-faults.sh 500 --first-seed 1000        seeds 1000..1499
#   tests/run-faults.sh --seed 42 -v                 rerun one seed, printing each fault
#   tests/run-faults.sh failover --rounds 5          measure acknowledgement gaps (silt-failover)
#
# Histories of failing seeds stay in ${TMPDIR:-/tmp}/silt-faults (or --history-dir DIR);
# check one again with `silt-check FILE`. SILT_FAULTS_S3_PORT picks the S3 port (default
# 19700; SeaweedFS also uses the next 15 ports and PORT+10004). Exit status: silt-faults'
# (1 when any seed failed).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
port="${SILT_FAULTS_S3_PORT:-19700}"
# silt refuses unknown SILT_ variables: keep this one from the processes the run starts
unset SILT_FAULTS_S3_PORT
bucket=silt-test
args=()
runner=silt-faults
if [ "${1:-}" = failover ]; then
  runner=silt-failover
  shift
elif [ $# -gt 0 ] && [[ "$1" =~ ^[0-9]+$ ]]; then
  args+=(--seeds "$1")
  shift
elif [ $# -eq 0 ]; then
  args+=(--seeds 20)
fi
args+=("$@")

datadir="$(mktemp -d "${TMPDIR:-/tmp}/silt-faults-s3.XXXXXX")"
cleanup() {
  scripts/s3-server.sh stop "$port" >/dev/null 2>&1 || true
  rm -rf "$datadir"
}
trap cleanup EXIT INT TERM

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
# One build of every binary (as scripts/test.sh does): building packages one by one would
# unify dependency features differently and rebuild them.
cargo build --workspace --bins
scripts/s3-server.sh start "$port" "$datadir" "$bucket"
eval "$(scripts/s3-server.sh env "$port")"
export SILT_TEST_S3_BUCKET="$bucket"
export SILT_BIN="$CARGO_TARGET_DIR/debug/silt"

"$CARGO_TARGET_DIR/debug/$runner" ${args[@]+"${args[@]}"}
