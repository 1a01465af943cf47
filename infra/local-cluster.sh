#!/usr/bin/env bash
# A local silt cluster on 127.0.0.1: an S3-compatible server (SeaweedFS, through
# scripts/s3-server.sh), 3 `silt metadata` Raft voters and 3 stateless `silt broker`s, each
# process in its own directory. The integration tests (tests/src/harness/cluster.rs) drive
# clusters through this same script.
#
#   infra/local-cluster.sh up                start whatever is not running, wait until every broker
#                                            answers /readyz, print the broker URLs (one per line)
#   infra/local-cluster.sh down              stop every process and the S3 server (SIGTERM, then SIGKILL
#                                            after SILT_CLUSTER_STOP_TIMEOUT s); the data stays
#   infra/local-cluster.sh status            each process, its pid, whether it is alive, the metadata leader
#   infra/local-cluster.sh start ROLE N      (re)start one process with the same command line and wait
#                                            until it is ready; ROLE is `metadata` (or `meta`) or `broker`
#   infra/local-cluster.sh stop ROLE N       stop one process (SIGTERM, then SIGKILL)
#
# Build the binary first: `cargo build --release --bin silt` (the default SILT_BIN is
# target/release/silt, else $CARGO_TARGET_DIR/release/silt).
#
# Settings (environment; `up` writes the chosen ones to $SILT_CLUSTER_DIR/cluster.env, which
# every later command reuses):
#   SILT_CLUSTER_DIR           where everything lives (default ./silt-cluster): meta-N/ and broker-N/
#                              (each with `pid`, `log`, `cmdline` and its data or cache dir), s3/, cluster.env,
#                              and the cluster secret: cluster.secret (made by `up` if missing, mode 600;
#                              every metadata node and broker gets it, so the metadata routes require it)
#                              and auth.header (the same as a curl header file, for this script's requests);
#                              with client authentication on (the default), principals.toml and admin.token
#   SILT_CLUSTER_AUTH          on (default) or off. On: `up` makes principals.toml in the cluster dir
#                              (mode 600, unless it exists) with one principal `admin` allowed
#                              everything (produce:*, consume:*, admin:*, cluster:*) and writes its token
#                              to admin.token (mode 600); every broker runs with
#                              SILT_AUTH_PRINCIPALS_FILE=principals.toml, so clients must send
#                              `Authorization: Bearer $(cat admin.token)` (SILT_TOKEN for the CLI).
#                              Add principals to the file (`silt auth token --name N --allow RULE`),
#                              then SIGHUP the brokers (or wait auth.reload_interval). Off: brokers
#                              admit every client, as before.
#   SILT_BIN                   the silt binary
#   SILT_METADATA_PORTS        "7101 7102 7103" (one metadata node per port)
#   SILT_BROKER_PORTS          "7071 7072 7073" (one broker per port)
#   SILT_CLUSTER_S3_PORT       19300 (SeaweedFS also uses the next 15 ports and PORT+10004)
#   SILT_CLUSTER_OBJECT_STORE  any object-store URL (s3://BUCKET/PREFIX with the caller's AWS_*
#                              variables, file:///shared/dir); then no S3 server is started.
#                              Default: s3://silt-cluster/cluster on the local SeaweedFS.
#   SILT_BROKER_ARGS           extra broker flags, e.g. --fault-injection
#   SILT_METADATA_ARGS         extra metadata flags
#   SILT_CLUSTER_START_TIMEOUT seconds to wait for a process to become ready (default 60)
#   SILT_CLUSTER_WAIT_FOR      what `start broker N` waits for: ready (default: /readyz, the
#                              broker reaches metadata and the object store) or alive
#                              (/healthz: the process serves; during a metadata outage a
#                              broker is alive but not ready)
#   SILT_CLUSTER_STOP_TIMEOUT  seconds between SIGTERM and SIGKILL (default 20)
# With SILT_CLUSTER_OBJECT_STORE, `start broker N` needs the same AWS_* variables as `up` had
# (credentials are never written to cluster.env).
set -euo pipefail

ME="local-cluster.sh"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
S3_SCRIPT="$ROOT/scripts/s3-server.sh"
S3_BUCKET=silt-cluster

log() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }
usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

# --- settings -------------------------------------------------------------------------------
DIR="${SILT_CLUSTER_DIR:-./silt-cluster}"
ENV_FILE=""

absolute_dir() { mkdir -p "$1" && (cd "$1" && pwd -P); }

default_bin() {
  local candidate
  for candidate in "$ROOT/target/release/silt" "${CARGO_TARGET_DIR:-}/release/silt"; do
    if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
  done
  return 1
}

# load_settings FOR_UP: defaults < cluster.env < environment (the environment only for `up`
# while nothing of the cluster runs, so a running cluster keeps its settings)
load_settings() {
  local for_up="$1" env_bin="${SILT_BIN-}" env_meta="${SILT_METADATA_PORTS-}"
  local env_brokers="${SILT_BROKER_PORTS-}" env_s3="${SILT_CLUSTER_S3_PORT-}"
  local env_store="${SILT_CLUSTER_OBJECT_STORE-}" env_bargs="${SILT_BROKER_ARGS-}"
  local env_margs="${SILT_METADATA_ARGS-}" set_bargs="${SILT_BROKER_ARGS+x}"
  local set_margs="${SILT_METADATA_ARGS+x}" set_store="${SILT_CLUSTER_OBJECT_STORE+x}"
  local env_auth="${SILT_CLUSTER_AUTH-}"
  if [ "$for_up" = 1 ]; then
    DIR="$(absolute_dir "$DIR")" || die "cannot create $DIR"
  else
    [ -d "$DIR" ] || die "no cluster in $DIR (run \`$0 up\` first, or set SILT_CLUSTER_DIR)"
    DIR="$(cd "$DIR" && pwd -P)"
  fi
  ENV_FILE="$DIR/cluster.env"
  META_PORTS="7101 7102 7103"
  BROKER_PORTS="7071 7072 7073"
  S3_PORT=19300
  OBJECT_STORE=""
  OWN_S3=1
  BROKER_ARGS=""
  METADATA_ARGS=""
  AUTH=on
  BIN=""
  if [ -f "$ENV_FILE" ]; then
    # shellcheck disable=SC1090
    . "$ENV_FILE"
  elif [ "$for_up" != 1 ]; then
    die "no $ENV_FILE (run \`$0 up\` first)"
  fi
  if [ "$for_up" = 1 ] && ! anything_running; then
    [ -z "$env_bin" ] || BIN="$env_bin"
    [ -z "$env_meta" ] || META_PORTS="$env_meta"
    [ -z "$env_brokers" ] || BROKER_PORTS="$env_brokers"
    [ -z "$env_s3" ] || S3_PORT="$env_s3"
    if [ -n "$set_store" ]; then OBJECT_STORE="$env_store"; fi
    if [ -n "$set_bargs" ]; then BROKER_ARGS="$env_bargs"; fi
    if [ -n "$set_margs" ]; then METADATA_ARGS="$env_margs"; fi
    [ -z "$env_auth" ] || AUTH="$env_auth"
    if [ -z "$BIN" ]; then
      BIN="$(default_bin)" || die "no silt binary: build it (cargo build --release --bin silt) or set SILT_BIN"
    fi
    if [ -n "$OBJECT_STORE" ]; then OWN_S3=0; else OWN_S3=1; OBJECT_STORE="s3://$S3_BUCKET/cluster"; fi
  fi
  if [ "$for_up" = 1 ]; then
    [ -x "$BIN" ] || die "silt binary $BIN is not executable (set SILT_BIN)"
    BIN="$(cd "$(dirname "$BIN")" && pwd -P)/$(basename "$BIN")"
  fi
  read -r -a META_PORT_LIST <<<"$META_PORTS"
  read -r -a BROKER_PORT_LIST <<<"$BROKER_PORTS"
  [ "${#META_PORT_LIST[@]}" -ge 1 ] || die "SILT_METADATA_PORTS is empty"
  [ "${#BROKER_PORT_LIST[@]}" -ge 1 ] || die "SILT_BROKER_PORTS is empty"
  local p
  for p in "${META_PORT_LIST[@]}" "${BROKER_PORT_LIST[@]}" "$S3_PORT"; do
    [[ "$p" =~ ^[0-9]+$ ]] && [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "invalid port $p"
  done
  case "$AUTH" in on | off) ;; *) die "SILT_CLUSTER_AUTH must be on or off (got $AUTH)" ;; esac
  START_TIMEOUT="${SILT_CLUSTER_START_TIMEOUT:-60}"
  STOP_TIMEOUT="${SILT_CLUSTER_STOP_TIMEOUT:-20}"
}

save_settings() {
  {
    echo "# written by $ME up; read by every later command"
    printf 'BIN=%q\n' "$BIN"
    printf 'META_PORTS=%q\n' "$META_PORTS"
    printf 'BROKER_PORTS=%q\n' "$BROKER_PORTS"
    printf 'S3_PORT=%q\n' "$S3_PORT"
    printf 'OWN_S3=%q\n' "$OWN_S3"
    printf 'OBJECT_STORE=%q\n' "$OBJECT_STORE"
    printf 'BROKER_ARGS=%q\n' "$BROKER_ARGS"
    printf 'METADATA_ARGS=%q\n' "$METADATA_ARGS"
    printf 'AUTH=%q\n' "$AUTH"
  } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# --- locks (flock when available) -------------------------------------------------------------
# fd 9: the cluster lock (exclusive for up/down, shared for start/stop); fd 8: one process
lock_cluster() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$DIR/.lock"
  flock "$1" -w 300 9 || die "timed out waiting for $DIR/.lock"
}
lock_process() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 8>"$1/.lock"
  flock -w 300 8 || die "timed out waiting for $1/.lock"
}

# --- processes ---------------------------------------------------------------------------------
role_name() { # role_name ROLE: the directory prefix
  case "$1" in
    meta | metadata) echo meta ;;
    broker) echo broker ;;
    *) die "unknown role $1 (metadata or broker)" ;;
  esac
}
count_of() { if [ "$1" = meta ]; then echo "${#META_PORT_LIST[@]}"; else echo "${#BROKER_PORT_LIST[@]}"; fi; }
port_of() { # port_of ROLE N
  if [ "$1" = meta ]; then echo "${META_PORT_LIST[$(($2 - 1))]}"; else echo "${BROKER_PORT_LIST[$(($2 - 1))]}"; fi
}
check_index() {
  local count
  count="$(count_of "$1")"
  [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] && [ "$2" -le "$count" ] || die "$1 index must be 1..$count (got $2)"
}
proc_dir() { echo "$DIR/$1-$2"; }

# process_state PID DIR: prints running, paused, or nothing (not ours, gone, or a zombie).
# A pid counts as ours only while its command line names DIR (guards against pid reuse).
process_state() {
  local pid="$1" dir="$2" state cmd
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/stat" ]; then
    state="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ] || return 1
    cmd=" $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) " || return 1
    case "$cmd" in *"$dir/"*) ;; *) return 1 ;; esac
    if [ "$state" = T ]; then echo paused; else echo running; fi
    return 0
  fi
  echo running
}
# launched_alive PID: whether the process `launch` just started still lives (not a zombie).
# Unlike process_state it does not match the command line: until the launching subshell has
# exec'd silt, the pid still runs this script.
launched_alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  [ -r "/proc/$1/stat" ] || return 0
  state="$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
pid_of() { cat "$1/pid" 2>/dev/null || true; }
alive_pid() { # alive_pid DIR: prints the pid of the live process of DIR
  local pid
  pid="$(pid_of "$1")"
  process_state "$pid" "$1" >/dev/null && echo "$pid"
}
anything_running() {
  local d
  for d in "$DIR"/meta-* "$DIR"/broker-*; do
    [ -d "$d" ] || continue
    alive_pid "$d" >/dev/null && return 0
  done
  return 1
}

# --- the cluster secret ------------------------------------------------------------------------
secret_file() { echo "$DIR/cluster.secret"; }
header_file() { echo "$DIR/auth.header"; }
# make_secret: cluster.secret (a new random one, unless it exists) and auth.header, both mode 600
make_secret() {
  local secret header
  secret="$(secret_file)"
  header="$(header_file)"
  if [ ! -s "$secret" ]; then
    (umask 077 && "$BIN" auth cluster-secret >"$secret.tmp") || die "cannot make a cluster secret with $BIN"
    mv "$secret.tmp" "$secret"
    log "made a new cluster secret: $secret"
  fi
  (umask 077 && printf 'Authorization: Bearer %s\n' "$(tr -d '[:space:]' <"$secret")" >"$header")
}
# --- client authentication (brokers) -----------------------------------------------------------
principals_file() { echo "$DIR/principals.toml"; }
admin_token_file() { echo "$DIR/admin.token"; }
# make_principals: principals.toml with the principal `admin` (every right) and its token in
# admin.token, both mode 600; an existing pair is kept (a restarted cluster keeps its tokens)
make_principals() {
  local file token out
  file="$(principals_file)"
  token="$(admin_token_file)"
  [ -s "$file" ] && [ -s "$token" ] && return 0
  out="$(umask 077 && "$BIN" auth token --name admin --allow 'produce:*' --allow 'consume:*' \
    --allow 'admin:*' --allow 'cluster:*')" || die "cannot make a token with $BIN"
  (umask 077 && printf '%s\n' "$out" | head -n 1 >"$token.tmp" \
    && printf '%s\n' "$out" | sed '1,2d; /^#/d' >"$file.tmp") || die "cannot write $file"
  mv "$token.tmp" "$token"
  mv "$file.tmp" "$file"
  log "made the principals file $file (principal admin; its token is in $token)"
}

# meta_curl ARGS…: curl presenting the cluster secret (from a file: it never shows in ps)
meta_curl() { curl -H @"$(header_file)" "$@"; }

metadata_peers() {
  local i peers=()
  for i in $(seq 1 "${#META_PORT_LIST[@]}"); do peers+=("$i=127.0.0.1:$(port_of meta "$i")"); done
  local IFS=,
  echo "${peers[*]}"
}
metadata_urls() {
  local i urls=()
  for i in $(seq 1 "${#META_PORT_LIST[@]}"); do urls+=("http://127.0.0.1:$(port_of meta "$i")"); done
  local IFS=,
  echo "${urls[*]}"
}

command_of() { # command_of ROLE N: fills CMD
  local role="$1" n="$2" dir port extra
  dir="$(proc_dir "$role" "$n")"
  port="$(port_of "$role" "$n")"
  if [ "$role" = meta ]; then
    read -r -a extra <<<"$METADATA_ARGS"
    CMD=("$BIN" metadata --id "$n" --listen "127.0.0.1:$port" --peers "$(metadata_peers)"
         --data-dir "$dir/data" --cluster-secret-file "$(secret_file)" ${extra[@]+"${extra[@]}"})
  else
    read -r -a extra <<<"$BROKER_ARGS"
    CMD=("$BIN" broker --metadata "$(metadata_urls)" --listen "127.0.0.1:$port"
         --cache-dir "$dir/cache" --object-store "$OBJECT_STORE" ${extra[@]+"${extra[@]}"})
  fi
}

s3_env() {
  [ "$OWN_S3" = 1 ] || return 0
  eval "$("$S3_SCRIPT" env "$S3_PORT")"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

http_ok() { # http_ok URL: exit 0 on a 2xx answer within 2 s
  curl -fsS -o /dev/null -m 2 "$1" 2>/dev/null
}

tail_log() { echo "---- last lines of $1 ----" >&2; tail -n 25 "$1" >&2 2>/dev/null || true; echo "----" >&2; }

# launch ROLE N: start the process if it does not run (no waiting); prints its pid
launch() {
  local role="$1" n="$2" dir port pid setsid=()
  dir="$(proc_dir "$role" "$n")"
  port="$(port_of "$role" "$n")"
  mkdir -p "$dir"
  if pid="$(alive_pid "$dir")"; then
    log "$role-$n already running (pid $pid)"
    echo "$pid"
    return 0
  fi
  if port_busy "$port"; then
    die "port $port (for $role-$n) is already in use by another process"
  fi
  command_of "$role" "$n"
  [ "$role" = meta ] && mkdir -p "$dir/data"
  [ "$role" = broker ] && mkdir -p "$dir/cache"
  printf '%q ' "${CMD[@]}" >"$dir/cmdline"
  echo >>"$dir/cmdline"
  printf -- '---- %s: starting %s-%s: %s\n' "$(date -u +%FT%TZ)" "$role" "$n" "$(cat "$dir/cmdline")" >>"$dir/log"
  command -v setsid >/dev/null 2>&1 && setsid=(setsid)
  # the subshell execs silt (so $! is its pid) in its own session, detached from the
  # caller's terminal and pipes; the lock fds are not inherited, nor the variables of this
  # script and of the test suite (silt refuses to start on a SILT_ variable it does not know)
  (
    cd "$dir"
    for var in $(compgen -e); do
      case "$var" in
        SILT_CLUSTER_* | SILT_METADATA_PORTS | SILT_BROKER_PORTS | SILT_BROKER_ARGS | \
          SILT_METADATA_ARGS | SILT_FAULT* | SILT_KEEP_CLUSTER) unset "$var" ;;
      esac
    done
    # brokers read the secret's path as config (cluster.secret_file); metadata nodes get a flag
    if [ "$role" = broker ]; then export SILT_CLUSTER_SECRET_FILE="$DIR/cluster.secret"; fi
    if [ "$role" = broker ] && [ "$AUTH" = on ]; then
      export SILT_AUTH_PRINCIPALS_FILE="$DIR/principals.toml"
    fi
    exec "${setsid[@]}" "${CMD[@]}"
  ) </dev/null >>"$dir/log" 2>&1 8>&- 9>&- &
  pid=$!
  disown "$pid" 2>/dev/null || true
  echo "$pid" >"$dir/pid"
  echo "$pid"
}

# wait_ready ROLE N PID: until /healthz (metadata; a broker with SILT_CLUSTER_WAIT_FOR=alive)
# or /readyz (broker) answers 2xx
wait_ready() {
  local role="$1" n="$2" pid="$3" dir url path deadline
  dir="$(proc_dir "$role" "$n")"
  url="http://127.0.0.1:$(port_of "$role" "$n")"
  if [ "$role" = meta ] || [ "${SILT_CLUSTER_WAIT_FOR:-ready}" = alive ]; then
    path=/healthz
  else
    path=/readyz
  fi
  deadline=$((SECONDS + START_TIMEOUT))
  while ! http_ok "$url$path"; do
    if ! launched_alive "$pid"; then
      tail_log "$dir/log"
      die "$role-$n (pid $pid) exited before it was ready (log: $dir/log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail_log "$dir/log"
      die "$role-$n (pid $pid) not ready at $url$path after $START_TIMEOUT s (log: $dir/log)"
    fi
    sleep 0.1
  done
}

# metadata_status N: the JSON of GET /meta/v1/status (empty when it does not answer)
metadata_status() { meta_curl -fsS -m 2 "http://127.0.0.1:$(port_of meta "$1")/meta/v1/status" 2>/dev/null || true; }
json_field() { # json_field NAME JSON: a number or string field of a flat JSON object
  printf '%s' "$2" | tr -d '\n' | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\{0,1\}\([^\",}]*\)\"\{0,1\}.*/\1/p" | head -n 1
}

# leader: prints "ID TERM" of the leader some metadata node reports (empty if none)
leader() {
  local i status id term state
  for i in $(seq 1 "${#META_PORT_LIST[@]}"); do
    status="$(metadata_status "$i")"
    [ -n "$status" ] || continue
    state="$(json_field state "$status")"
    id="$(json_field leader_id "$status")"
    term="$(json_field term "$status")"
    if [ "$state" = Leader ]; then echo "$(json_field node_id "$status") $term"; return 0; fi
    if [[ "$id" =~ ^[0-9]+$ ]]; then echo "$id $term"; return 0; fi
  done
  return 1
}

# voter_count N: how many voters metadata node N reports (empty when it does not answer)
voter_count() {
  local status list
  status="$(metadata_status "$1")"
  [ -n "$status" ] || return 1
  list="$(printf '%s' "$status" | tr -d '\n ' | sed -n 's/.*"voters":\[\([^]]*\)\].*/\1/p')"
  if [ -z "$list" ]; then echo 0; else echo "$list" | tr ',' '\n' | grep -c .; fi
}

# wait_leader: until a leader is known and it counts every node as a voter (a fresh cluster
# adds them as learners first; killing the leader before would leave no majority)
wait_leader() {
  local deadline=$((SECONDS + START_TIMEOUT)) found="" voters=""
  while :; do
    if found="$(leader)" && voters="$(voter_count "${found% *}")" \
        && [ "$voters" = "${#META_PORT_LIST[@]}" ]; then
      break
    fi
    [ "$SECONDS" -lt "$deadline" ] \
      || die "no metadata leader with ${#META_PORT_LIST[@]} voters after $START_TIMEOUT s (leader: ${found:-none}, voters: ${voters:-?}; logs: $DIR/meta-*/log)"
    sleep 0.2
  done
  log "metadata leader: node ${found% *} (term ${found#* }), ${voters} voters"
}

# stop_pids DIR...: SIGTERM (and SIGCONT, so a paused process can handle it) to each live
# process, then SIGKILL whatever still runs after STOP_TIMEOUT seconds
stop_dirs() {
  local d pid pids=() dirs=() deadline
  for d in "$@"; do
    if pid="$(alive_pid "$d")"; then
      kill -TERM "$pid" 2>/dev/null || true
      kill -CONT "$pid" 2>/dev/null || true
      pids+=("$pid"); dirs+=("$d")
    else
      rm -f "$d/pid"
    fi
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  deadline=$((SECONDS + STOP_TIMEOUT))
  local i left
  while :; do
    left=0
    for i in "${!pids[@]}"; do
      process_state "${pids[$i]}" "${dirs[$i]}" >/dev/null && left=$((left + 1))
    done
    [ "$left" -gt 0 ] || break
    if [ "$SECONDS" -ge "$deadline" ]; then
      for i in "${!pids[@]}"; do
        if process_state "${pids[$i]}" "${dirs[$i]}" >/dev/null; then
          log "$(basename "${dirs[$i]}") (pid ${pids[$i]}) still running $STOP_TIMEOUT s after SIGTERM; SIGKILL"
          kill -KILL "${pids[$i]}" 2>/dev/null || true
        fi
      done
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  for i in "${!pids[@]}"; do
    rm -f "${dirs[$i]}/pid"
    log "stopped $(basename "${dirs[$i]}") (pid ${pids[$i]})"
  done
}

# --- commands -----------------------------------------------------------------------------------
cmd_up() {
  load_settings 1
  lock_cluster -x
  save_settings
  make_secret
  [ "$AUTH" = off ] || make_principals
  if [ "$OWN_S3" = 1 ]; then
    "$S3_SCRIPT" start "$S3_PORT" "$DIR/s3" "$S3_BUCKET" >&2
  fi
  s3_env
  local n pid pids=()
  for n in $(seq 1 "${#META_PORT_LIST[@]}"); do
    pid="$(launch meta "$n")"
    pids+=("$pid")
  done
  for n in $(seq 1 "${#META_PORT_LIST[@]}"); do
    wait_ready meta "$n" "${pids[$((n - 1))]}"
  done
  wait_leader
  pids=()
  for n in $(seq 1 "${#BROKER_PORT_LIST[@]}"); do
    pid="$(launch broker "$n")"
    pids+=("$pid")
  done
  for n in $(seq 1 "${#BROKER_PORT_LIST[@]}"); do
    wait_ready broker "$n" "${pids[$((n - 1))]}"
  done
  log "cluster up in $DIR (metadata: $(metadata_urls); object store: $OBJECT_STORE)"
  if [ "$AUTH" = on ]; then
    log "try: SILT_TOKEN=\$(cat $(admin_token_file)) SILT_BROKER=http://127.0.0.1:${BROKER_PORT_LIST[0]} $BIN topic list"
  else
    log "try: SILT_BROKER=http://127.0.0.1:${BROKER_PORT_LIST[0]} $BIN topic list"
  fi
  for n in $(seq 1 "${#BROKER_PORT_LIST[@]}"); do
    echo "http://127.0.0.1:$(port_of broker "$n")"
  done
}

cmd_down() {
  if [ ! -f "${DIR%/}/cluster.env" ]; then
    log "no cluster in $DIR"
    return 0
  fi
  load_settings 0
  lock_cluster -x
  local dirs=() n
  for n in $(seq 1 "${#BROKER_PORT_LIST[@]}"); do dirs+=("$(proc_dir broker "$n")"); done
  stop_dirs "${dirs[@]}"
  dirs=()
  for n in $(seq 1 "${#META_PORT_LIST[@]}"); do dirs+=("$(proc_dir meta "$n")"); done
  stop_dirs "${dirs[@]}"
  if [ "$OWN_S3" = 1 ]; then
    "$S3_SCRIPT" stop "$S3_PORT" >&2 || true
  fi
  log "cluster in $DIR is down (data kept; remove the directory to start afresh)"
}

cmd_status() {
  load_settings 0
  local role n dir pid state url all=0 extra status
  for role in meta broker; do
    for n in $(seq 1 "$(count_of "$role")"); do
      dir="$(proc_dir "$role" "$n")"
      url="http://127.0.0.1:$(port_of "$role" "$n")"
      pid="$(pid_of "$dir")"
      extra=""
      if state="$(process_state "$pid" "$dir")"; then
        if [ "$state" = running ]; then
          if [ "$role" = meta ]; then
            status="$(metadata_status "$n")"
            if [ -n "$status" ]; then
              extra="$(json_field state "$status") term $(json_field term "$status")"
            else
              extra="not answering"
            fi
          elif http_ok "$url/readyz"; then extra="ready"; else extra="not ready"; fi
        fi
      else
        state=down; all=1; pid="${pid:--}"
      fi
      [ "$state" = running ] || all=1
      printf '%-9s pid %-8s %-8s %-24s %s\n' "$role-$n" "$pid" "$state" "$url" "$extra"
    done
  done
  local found
  if found="$(leader)"; then
    echo "metadata leader: node ${found% *} (http://127.0.0.1:$(port_of meta "${found% *}")), term ${found#* }"
  else
    echo "metadata leader: none"
    all=1
  fi
  if [ "$OWN_S3" = 1 ]; then
    echo "object store: $OBJECT_STORE; $("$S3_SCRIPT" status "$S3_PORT" 2>&1 || true)"
  else
    echo "object store: $OBJECT_STORE"
  fi
  return "$all"
}

cmd_start() {
  local role n dir pid
  role="$(role_name "$1")"
  n="$2"
  load_settings 0
  check_index "$role" "$n"
  lock_cluster -s
  dir="$(proc_dir "$role" "$n")"
  mkdir -p "$dir"
  lock_process "$dir"
  [ -x "$BIN" ] || die "silt binary $BIN is not executable (rebuild it, or run \`$0 up\` with SILT_BIN)"
  if [ "$role" = broker ] && [ "$OWN_S3" = 1 ]; then
    "$S3_SCRIPT" status "$S3_PORT" >/dev/null 2>&1 || die "the S3 server on port $S3_PORT is not running (run \`$0 up\`)"
  fi
  s3_env
  pid="$(launch "$role" "$n")"
  wait_ready "$role" "$n" "$pid"
  log "$role-$n ready (pid $pid)"
  echo "http://127.0.0.1:$(port_of "$role" "$n")"
}

cmd_stop() {
  local role n dir
  role="$(role_name "$1")"
  n="$2"
  load_settings 0
  check_index "$role" "$n"
  lock_cluster -s
  dir="$(proc_dir "$role" "$n")"
  lock_process "$dir"
  stop_dirs "$dir"
}

case "${1:-}" in
  up) [ $# -eq 1 ] || usage; cmd_up ;;
  down) [ $# -eq 1 ] || usage; cmd_down ;;
  status) [ $# -eq 1 ] || usage; cmd_status ;;
  start) [ $# -eq 3 ] || usage; cmd_start "$2" "$3" ;;
  stop) [ $# -eq 3 ] || usage; cmd_stop "$2" "$3" ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
