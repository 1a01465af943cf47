#!/usr/bin/env python3
"""Drift test: the rendered Kubernetes manifests against the real binary.

Starts `silt metadata` three times and `silt broker` once with exactly the environment and
arguments of the rendered containers (the image's ENV from infra/Dockerfile, then envFrom,
then env, as Kubernetes composes them), rewriting only what cannot exist here: Service and
pod addresses become 127.0.0.1 with free ports, volume mount paths become temp dirs, the S3
endpoint and keys become those of scripts/s3-server.sh (SeaweedFS). Then it checks that the
listen ports match the containerPorts the probes and Services name, that the probe paths
answer 200 (readiness included: a 3-voter cluster with a leader, a broker that reaches the
metadata service and the object store), that a produce and a fetch work through the broker,
and that every metric the Grafana dashboard and the alert rules query is exported by
`/metrics` of a broker, a metadata node or a running `silt dev`.

    drift.py --bin target/debug/silt --manifests rendered.yaml [--s3-port 19500]

Every process it starts is stopped however it ends (SIGTERM, then SIGKILL); the whole run is
bounded by --timeout seconds. Addresses are 127.0.0.1 only.
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROCS = []  # (name, Popen, log path)
S3 = {"port": None}


def log(msg):
    print(f"drift: {msg}", flush=True)


def fail(msg):
    raise SystemExit(f"drift: FAILED: {msg}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the rendered manifests -------------------------------------------------------------

def load(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def dockerfile_runtime():
    """ENV, ENTRYPOINT and CMD of the last stage of infra/Dockerfile."""
    text = open(os.path.join(ROOT, "infra", "Dockerfile")).read()
    text = re.sub(r"\\\n", " ", text)
    stage = text.split("\nFROM ")[-1]
    env, entrypoint = {}, None
    for line in stage.splitlines():
        line = line.strip()
        if line.startswith("ENV "):
            for key, value in re.findall(r"(\w+)=(\S+)", line[4:]):
                env[key] = value
        elif line.startswith("ENTRYPOINT "):
            entrypoint = json.loads(line[len("ENTRYPOINT "):])
    if not entrypoint:
        fail("infra/Dockerfile has no exec-form ENTRYPOINT in its last stage")
    return env, entrypoint


def container_env(objs, container, fields, image_env):
    """The environment Kubernetes gives `container`: image ENV < envFrom < env."""
    env = dict(image_env)
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(objs[("ConfigMap", source["configMapRef"]["name"])]["data"])
        elif "secretRef" in source:
            secret = objs[("Secret", source["secretRef"]["name"])]
            env.update({k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()})
            env.update(secret.get("stringData", {}))
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), var["value"])
        elif "fieldRef" in var.get("valueFrom", {}):
            path = var["valueFrom"]["fieldRef"]["fieldPath"]
            if path not in fields:
                fail(f"{container['name']}: env {var['name']} reads {path}, which this test does not model")
            env[var["name"]] = fields[path]
        elif "configMapKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["configMapKeyRef"]
            env[var["name"]] = objs[("ConfigMap", ref["name"])]["data"][ref["key"]]
        elif "secretKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = base64.b64decode(objs[("Secret", ref["name"])]["data"][ref["key"]]).decode()
        else:
            fail(f"{container['name']}: env {var['name']} has a source this test does not model")
    return env


def probe_paths(container):
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    probes = {}
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        probe = container.get(kind)
        if not probe:
            fail(f"{container['name']} has no {kind}")
        get = probe["httpGet"]
        port = ports.get(get["port"], get["port"])
        probes[kind] = (get["path"], port)
    return probes


# --- processes ----------------------------------------------------------------------------

def start(name, argv, env, workdir):
    logf = os.path.join(workdir, f"{name}.log")
    out = open(logf, "w")
    proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, cwd=workdir, start_new_session=True)
    PROCS.append((name, proc, logf))
    return proc


def stop_all():
    # Cleanup must finish: no signal or alarm interrupts it (it is bounded by itself).
    signal.alarm(0)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(signum, signal.SIG_IGN)
    for _, proc, _ in PROCS:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.time() + 20
    for _, proc, _ in PROCS:
        try:
            proc.wait(timeout=max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if S3["port"]:
        subprocess.run([os.path.join(ROOT, "scripts", "s3-server.sh"), "stop", str(S3["port"])],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def dump_logs():
    for name, _, logf in PROCS:
        try:
            tail = open(logf).read().splitlines()[-15:]
        except OSError:
            continue
        print(f"--- {name} ({logf}), last lines:", file=sys.stderr)
        print("\n".join(tail), file=sys.stderr)


def http(method, url, body=None, timeout=5):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


def wait_for(url, what, timeout, procs):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        for name, proc in procs:
            if proc.poll() is not None:
                fail(f"{name} exited with {proc.returncode} while waiting for {what}")
        last = http("GET", url, timeout=2)
        if last[0] == 200:
            return last[1]
        time.sleep(0.2)
    fail(f"{what}: {url} did not answer 200 within {timeout}s (last: {last})")


def metric_names(text):
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names


# --- the test -----------------------------------------------------------------------------

# Secrets the manifests mount but do not render (created out of band, no value committed):
# their keys, filled with one random value per run, the same for every pod.
EXTERNAL_SECRETS = {"silt-cluster-secret": ["cluster-secret"]}
RUN_SECRET = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


def fill_secret_volume(objs, volume, directory):
    """Writes a secret volume's files into directory: the rendered Secret's data, or for a
    Secret created out of band (EXTERNAL_SECRETS) a random value; fails on any other."""
    if "secret" not in volume:
        return
    name = volume["secret"]["secretName"]
    if ("Secret", name) in objs:
        data = {k: base64.b64decode(v) for k, v in objs[("Secret", name)].get("data", {}).items()}
    elif name in EXTERNAL_SECRETS:
        data = {key: RUN_SECRET.encode() for key in EXTERNAL_SECRETS[name]}
    else:
        fail(f"volume {volume['name']} mounts Secret {name}, which is neither rendered nor a known out-of-band Secret")
    for key, value in data.items():
        with open(os.path.join(directory, key), "wb") as f:
            f.write(value)


def rewrite_hosts(value, hosts):
    for host, addr in hosts.items():
        value = re.sub(rf"\b{re.escape(host)}\b", addr, value)
    return value


def run(args):
    objs = load(args.manifests)
    image_env, entrypoint = dockerfile_runtime()
    binary = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="silt-drift.")
    try:
        return test(objs, image_env, entrypoint, binary, work, args)
    except BaseException:
        dump_logs()
        raise
    finally:
        stop_all()
        shutil.rmtree(work, ignore_errors=True)


def test(objs, image_env, entrypoint, binary, work, args):
    sts = objs[("StatefulSet", "silt-metadata")]
    dep = objs[("Deployment", "silt-broker")]
    meta_c = sts["spec"]["template"]["spec"]["containers"][0]
    broker_c = dep["spec"]["template"]["spec"]["containers"][0]
    for c in (meta_c, broker_c):
        if "command" in c:
            fail(f"{c['name']} overrides the image's ENTRYPOINT; this test runs ENTRYPOINT + args")
    argv_of = lambda c: [binary] + entrypoint[1:] + c.get("args", [])  # noqa: E731
    headless = sts["spec"]["serviceName"]
    replicas = sts["spec"]["replicas"]
    if ("Service", headless) not in objs:
        fail(f"the StatefulSet's serviceName {headless} is not a rendered Service")

    # S3: the bucket of the rendered object store URL, on SeaweedFS.
    broker_probe_env = container_env(objs, broker_c, {"status.podIP": "127.0.0.1"}, image_env)
    url = broker_probe_env.get("SILT_OBJECT_STORE", "")
    m = re.match(r"s3://([^/]+)(/.*)?$", url)
    if not m:
        fail(f"the broker's SILT_OBJECT_STORE is {url!r}, not s3://BUCKET/PREFIX")
    bucket = m.group(1)
    S3["port"] = args.s3_port
    s3dir = os.path.join(work, "s3")
    subprocess.run([os.path.join(ROOT, "scripts", "s3-server.sh"), "start", str(args.s3_port), s3dir, bucket],
                   check=True, stdout=subprocess.DEVNULL)
    s3env = dict(re.findall(r"^export (\w+)=(.*)$", subprocess.run(
        [os.path.join(ROOT, "scripts", "s3-server.sh"), "env", str(args.s3_port)],
        check=True, capture_output=True, text=True).stdout, re.M))

    # Addresses: each voter's pod name, through the headless Service, gets a free port.
    meta_ports = [free_port() for _ in range(replicas)]
    meta_http = {p["name"]: p["containerPort"] for p in meta_c["ports"]}
    hosts = {}
    for i, port in enumerate(meta_ports):
        for port_in_manifest in set(meta_http.values()):
            hosts[f"{sts['metadata']['name']}-{i}.{headless}:{port_in_manifest}"] = f"127.0.0.1:{port}"

    def rewrite(env, mounts, listen_var, container_port, listen_port):
        out = {}
        for key, value in env.items():
            value = rewrite_hosts(value, hosts)
            for mount in sorted(mounts, key=len, reverse=True):
                if value == mount or value.startswith(mount.rstrip("/") + "/"):
                    value = mounts[mount] + value[len(mount.rstrip("/")):]
                    break
            out[key] = value
        for key, value in out.items():
            for (kind, svc) in objs:
                if kind == "Service" and re.search(rf"(^|[/=,@]){re.escape(svc)}[.:]", value) \
                        and key not in ("AWS_ENDPOINT", "AWS_ENDPOINT_URL"):
                    fail(f"{key}={value!r} names Service {svc} in a way this test does not rewrite")
        listen = env.get(listen_var, "")
        if not listen.endswith(f":{container_port}"):
            fail(f"{listen_var}={listen!r} does not listen on the containerPort {container_port} the probes and Service use")
        out[listen_var] = f"127.0.0.1:{listen_port}"
        return out

    def mounts_of(container, name, pod):
        mounts = {}
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for vm in container.get("volumeMounts", []):
            d = os.path.join(work, name, vm["name"])
            os.makedirs(d)
            fill_secret_volume(objs, volumes.get(vm["name"], {}), d)
            mounts[vm["mountPath"]] = d
        return mounts

    # Metadata voters.
    meta_procs = []
    meta_probes = probe_paths(meta_c)
    meta_mounts = []
    for i, port in enumerate(meta_ports):
        fields = {"metadata.labels['apps.kubernetes.io/pod-index']": str(i),
                  "metadata.name": f"{sts['metadata']['name']}-{i}", "status.podIP": "127.0.0.1"}
        env = container_env(objs, meta_c, fields, image_env)
        mounts = mounts_of(meta_c, f"metadata-{i}", sts["spec"]["template"]["spec"])
        meta_mounts.append(mounts)
        env = rewrite(env, mounts, "SILT_METADATA_LISTEN", meta_probes["readinessProbe"][1], port)
        env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
        proc = start(f"metadata-{i}", argv_of(meta_c), env, work)
        meta_procs.append((f"metadata-{i}", proc))
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        path = meta_probes[kind][0]
        for i, port in enumerate(meta_ports):
            wait_for(f"http://127.0.0.1:{port}{path}", f"metadata-{i} {kind} {path}", args.ready_timeout, meta_procs)
    log(f"{replicas} metadata voters up and ready (probes {sorted({p for p, _ in meta_probes.values()})})")

    # The broker.
    broker_probes = probe_paths(broker_c)
    broker_port = free_port()
    mounts = mounts_of(broker_c, "broker-0", dep["spec"]["template"]["spec"])
    env = container_env(objs, broker_c, {"status.podIP": "127.0.0.1", "metadata.name": "silt-broker-0"}, image_env)
    env = rewrite(env, mounts, "SILT_LISTEN", broker_probes["readinessProbe"][1], broker_port)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION"):
        if key not in env:
            fail(f"the broker's environment has no {key}")
        env[key] = s3env[key]
    for key in ("AWS_ENDPOINT", "AWS_ENDPOINT_URL"):
        if key in env:
            env[key] = s3env[key]
    if "SILT_CLUSTER_ADVERTISE" in env:
        env["SILT_CLUSTER_ADVERTISE"] = re.sub(r":\d+$", f":{broker_port}", env["SILT_CLUSTER_ADVERTISE"])
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    shown = {k: ("***" if "SECRET" in k else v) for k, v in sorted(env.items())}
    log(f"broker environment: {shown}")
    broker = start("broker-0", argv_of(broker_c), env, work)
    watch = meta_procs + [("broker-0", broker)]
    base = f"http://127.0.0.1:{broker_port}"
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        wait_for(base + broker_probes[kind][0], f"broker {kind} {broker_probes[kind][0]}", args.ready_timeout, watch)
    log("broker up and ready")

    # A produce and a fetch through the broker.
    status, body = http("POST", f"{base}/v1/topics", {"name": "drift", "partitions": 1}, timeout=15)
    if status not in (200, 201):
        fail(f"create topic: {status} {body}")
    status, body = http("POST", f"{base}/v1/topics/drift/records",
                        {"records": [{"key": "k", "value": {"n": 1}}, {"value": "two"}]}, timeout=30)
    if status != 200:
        fail(f"produce: {status} {body}")
    status, body = http("GET", f"{base}/v1/topics/drift/partitions/0/records?offset=0", timeout=15)
    records = json.loads(body).get("records", []) if status == 200 else []
    if [r.get("value") for r in records] != [{"n": 1}, "two"]:
        fail(f"fetch: {status} {body}")
    log("produce and fetch ok (2 records)")

    # The volume paths are the ones the binary writes to.
    for name, mlist in [("metadata-0", [meta_mounts[0]]), ("broker-0", [mounts])]:
        used = [p for m in mlist for p, d in m.items() if os.listdir(d)]
        if not used:
            fail(f"{name} wrote to none of its volumes {list(mlist[0])}")
        log(f"{name} wrote to {used}")

    # Read-only root filesystem: nothing but the volumes was written (the processes' working
    # directory is the temp dir itself, so a relative path would show up here).
    expected = {"s3", "broker-0"} | {f"metadata-{i}" for i in range(replicas)} | {f"{n}.log" for n, _, _ in PROCS}
    stray = sorted(set(os.listdir(work)) - expected)
    if stray:
        fail(f"written outside the volumes: {stray}")

    exported = metric_names(http("GET", f"{base}/metrics")[1])
    exported |= metric_names(http("GET", f"http://127.0.0.1:{meta_ports[0]}/metrics")[1])
    exported |= dev_metrics(binary, work, args)
    check_metric_names(exported)
    return 0


def dev_metrics(binary, work, args):
    """/metrics of a `silt dev` after a produce and a fetch."""
    port = free_port()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    proc = start("dev", [binary, "dev", "--listen", f"127.0.0.1:{port}", "--data-dir", os.path.join(work, "dev")], env, work)
    base = f"http://127.0.0.1:{port}"
    wait_for(base + "/readyz", "silt dev /readyz", args.ready_timeout, [("dev", proc)])
    http("POST", f"{base}/v1/topics", {"name": "m", "partitions": 1})
    http("POST", f"{base}/v1/topics/m/records", {"records": [{"value": "x"}]}, timeout=30)
    http("GET", f"{base}/v1/topics/m/partitions/0/records?offset=0")
    return metric_names(http("GET", base + "/metrics")[1])


def queried_metrics():
    """Metric names in the dashboard's and the alert rules' expressions."""
    exprs = []
    dash = json.load(open(os.path.join(ROOT, "infra", "grafana", "silt-dashboard.json")))
    stack = list(dash["panels"])
    while stack:
        panel = stack.pop()
        stack.extend(panel.get("panels", []))
        exprs += [("dashboard", t["expr"]) for t in panel.get("targets", [])]
    rules = yaml.safe_load(open(os.path.join(ROOT, "infra", "prometheus", "silt-alerts.yaml")))
    for group in rules["groups"]:
        exprs += [("alerts", r["expr"]) for r in group["rules"]]
    names = {}
    for where, expr in exprs:
        for name in re.findall(r"\b(silt_[a-z0-9_]+)\b", expr):
            names.setdefault(name, where)
    return names


def check_metric_names(exported):
    queried = queried_metrics()
    missing = sorted(f"{n} ({w})" for n, w in queried.items() if n not in exported)
    if missing:
        fail("queried but not exported by /metrics: " + ", ".join(missing))
    log(f"metric names: the {len(queried)} names the dashboard and the alerts query are all exported "
        f"({len(exported)} exported)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", required=True)
    p.add_argument("--manifests", required=True, help="kubectl kustomize output (the local-minio overlay)")
    p.add_argument("--s3-port", type=int, default=int(os.environ.get("SILT_INFRA_S3_PORT", "19500")))
    p.add_argument("--ready-timeout", type=float, default=60)
    p.add_argument("--timeout", type=int, default=240, help="bound of the whole run, seconds")
    args = p.parse_args()

    def on_signal(signum, _frame):
        raise SystemExit(f"drift: FAILED: {'timed out' if signum == signal.SIGALRM else 'interrupted'}")
    signal.signal(signal.SIGALRM, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.alarm(args.timeout)
    t0 = time.time()
    rc = run(args)
    log(f"ok in {time.time() - t0:.1f}s")
    return rc


if __name__ == "__main__":
    sys.exit(main())
