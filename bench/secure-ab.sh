#!/usr/bin/env bash
# The cost of authentication and TLS: steps 2 (one-record produce latency) and 4 (bulk
# produce, 16 requests of 500 x 1 KiB in flight) of bench/run.sh against one release build,
# alternating "plain" (no auth, plain HTTP) and "secure" (a principals file and a bearer
# token on every request, HTTPS with a certificate from a throwaway CA) each round, so drift
# of the machine or the store lands on both. Each run gets a fresh `silt dev` over one
# SeaweedFS.
#
#   bench/secure-ab.sh [ROUNDS (default 3)] [PRODUCE_SECONDS (default 15)]
#
# Needs `openssl` (the CA and the broker's certificate) and `curl`; builds the release
# binaries first.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-3}" seconds="${2:-15}"
target="${CARGO_TARGET_DIR:-$PWD/target}"
bin="$target/release"
port="${SILT_AB_S3_PORT:-19890}" broker_port="${SILT_AB_BROKER_PORT:-19870}"
work="$(mktemp -d)" pid=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  scripts/s3-server.sh stop "$port" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM
cargo build --release -p silt-broker -p silt-loadgen --features silt-broker/fault-injection

# A CA and a certificate for 127.0.0.1 signed by it.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=silt bench CA" -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$work/broker.key" -out "$work/broker.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$work/san.ext"
openssl x509 -req -in "$work/broker.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/san.ext" -out "$work/broker.crt" 2>/dev/null
# A principal allowed everything; its token is the first line `silt auth token` prints.
"$bin/silt" auth token --name bench --allow 'admin:*' --allow 'produce:*' --allow 'consume:*' \
  --allow 'cluster:*' >"$work/token.out"
token="$(head -n 1 "$work/token.out")"
tail -n +2 "$work/token.out" | grep -v '^#' >"$work/principals.toml"

scripts/s3-server.sh start "$port" "$work/s3" silt-bench >/dev/null
eval "$(scripts/s3-server.sh env "$port")"
echo "== machine: $(nproc) cores; commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
for round in $(seq 1 "$rounds"); do
  for side in plain secure; do
    rm -rf "$work/silt"
    extra=() client=()
    broker="http://127.0.0.1:$broker_port"
    if [ "$side" = secure ]; then
      extra=(SILT_SERVER_TLS_CERT="$work/broker.crt" SILT_SERVER_TLS_KEY="$work/broker.key"
        SILT_AUTH_PRINCIPALS_FILE="$work/principals.toml")
      client=(--token "$token" --ca-file "$work/ca.pem")
      broker="https://127.0.0.1:$broker_port"
    fi
    env SILT_LOG=warn "${extra[@]}" "$bin/silt" dev --data-dir "$work/silt" \
      --listen "127.0.0.1:$broker_port" --object-store "s3://silt-bench/sec-$side-$round" \
      >>"$work/silt.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 200); do
      curl -sf --cacert "$work/ca.pem" "$broker/readyz" >/dev/null 2>&1 && break
      sleep 0.05
    done
    lg() { "$bin/silt-loadgen" --broker "$broker" --broker-pid "$pid" "${client[@]}" "$@"; }
    lg latency --topic "l$round" --count 1000 | grep '^|' | sed "s/^/round $round $side: /"
    lg produce --topic "p$round" --partitions 8 --record-size 1024 --records-per-request 500 \
      --concurrency 16 --seconds "$seconds" | grep '^|' | sed "s/^/round $round $side: /"
    kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  done
done
