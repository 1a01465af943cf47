#!/usr/bin/env python3
"""Static consistency checks of the deployment assets (run by infra/check.sh).

    static.py RENDERED_LOCAL_MINIO.yaml RENDERED_CLOUD.yaml

- terraform: every .tf parses (python-hcl2); in each directory every declared variable is
  used and every `var.X` is declared; each module call passes only the module's variables
  and every variable the module requires.
- IAM: the S3 actions of the terraform module are exactly those the Rust code issues, read
  from its object-store calls (`<handle>.store.<operation>(` outside tests).
- The spool alert's threshold is 80% of the brokers' SILT_WAL_MAX_SPOOL_BYTES.
- Each ServiceMonitor selects a rendered Service that has the port it scrapes.
"""

import glob
import os
import re
import sys

import hcl2
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAILURES = []

# object_store operation -> the IAM actions it needs.
S3_ACTIONS = {
    "put": {"s3:PutObject"}, "put_opts": {"s3:PutObject"},
    "put_multipart": {"s3:PutObject", "s3:AbortMultipartUpload"},
    "put_multipart_opts": {"s3:PutObject", "s3:AbortMultipartUpload"},
    "get": {"s3:GetObject"}, "get_opts": {"s3:GetObject"}, "get_range": {"s3:GetObject"},
    "get_ranges": {"s3:GetObject"}, "head": {"s3:GetObject"},
    "delete": {"s3:DeleteObject"}, "delete_stream": {"s3:DeleteObject"},
    "list": {"s3:ListBucket"}, "list_with_offset": {"s3:ListBucket"},
    "list_with_delimiter": {"s3:ListBucket"},
    "copy": {"s3:GetObject", "s3:PutObject"}, "copy_if_not_exists": {"s3:GetObject", "s3:PutObject"},
    "copy_opts": {"s3:GetObject", "s3:PutObject"},
    "rename": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
    "rename_if_not_exists": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
    "rename_opts": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
}


# Calls on a store handle that send no request (cloning the handle or the Arc, borrowing
# the store to pass it to a helper, whose own `store.OP(` calls are read too).
# Also methods of things named `store` that are no object store: a handle's builder
# (`with_faults`) and the metadata node's local snapshot directory (`remove_all_but`).
NOT_REQUESTS = {"clone", "as_ref", "with_faults", "remove_all_but"}


def one(value):
    """python-hcl2 wraps attribute values in a list; unwrap it."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def check(ok, msg):
    print(f"static: {'ok' if ok else 'FAILED'}: {msg}")
    if not ok:
        FAILURES.append(msg)


def without_tests(text):
    """Rust source up to its first #[cfg(test)] (test modules sit at the end of a file)."""
    return text.split("#[cfg(test)]", 1)[0]


def code_s3_actions():
    calls = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "*", "src", "**", "*.rs"), recursive=True)):
        rel = os.path.relpath(path, ROOT)
        if rel.startswith(("tests/", "loadgen/", "sdk/")) or rel.endswith("/tests.rs"):
            continue
        text = re.sub(r"\s*\n\s*\.", ".", without_tests(open(path).read()))
        for op in re.findall(r"\bstore\.(\w+)\(", text):
            if op in NOT_REQUESTS:
                continue
            if op not in S3_ACTIONS:
                check(False, f"{rel}: object-store operation {op!r} has no IAM mapping in {__file__}")
                continue
            calls.setdefault(op, set()).add(rel)
    return calls


def terraform():
    dirs = sorted({os.path.dirname(p) for p in glob.glob(os.path.join(ROOT, "terraform", "**", "*.tf"), recursive=True)})
    modules = {}
    for d in dirs:
        parsed, text = {}, ""
        for f in sorted(glob.glob(os.path.join(d, "*.tf"))):
            with open(f) as fh:
                body = fh.read()
            text += body
            try:
                doc = hcl2.loads(body)
            except Exception as e:  # noqa: BLE001 (any parse error fails the check)
                check(False, f"{os.path.relpath(f, ROOT)} does not parse: {e}")
                continue
            for key, value in doc.items():
                parsed.setdefault(key, []).extend(value)
        modules[d] = (parsed, text)
    for d, (parsed, text) in modules.items():
        rel = os.path.relpath(d, ROOT)
        declared = {}
        for block in parsed.get("variable", []):
            for name, body in block.items():
                declared[name.strip('"')] = body
        used = set(re.findall(r"\bvar\.(\w+)", text))
        check(set(declared) == used, f"{rel}: variables declared {sorted(declared)} == used {sorted(used)}")
        undocumented = [n for n, b in declared.items() if not b.get("description")]
        check(not undocumented, f"{rel}: every variable has a description (missing: {undocumented})")
        outputs = [n for block in parsed.get("output", []) for n, b in block.items() if not b.get("description")]
        check(not outputs, f"{rel}: every output has a description (missing: {outputs})")
        for block in parsed.get("module", []):
            for name, body in block.items():
                source = os.path.normpath(os.path.join(d, one(body["source"])))
                mparsed = modules[source][0]
                mvars = {n.strip('"'): b for blk in mparsed.get("variable", []) for n, b in blk.items()}
                meta = ("source", "version", "providers", "depends_on", "count", "for_each")
                args = {k for k in body if k not in meta and not k.startswith("__")}
                required = {n for n, b in mvars.items() if "default" not in b}
                check(args <= set(mvars) and required <= args,
                      f"{rel}: module {name} passes known variables ({sorted(args - set(mvars)) or 'none unknown'}) "
                      f"and every required one ({sorted(required - args) or 'none missing'})")
    return modules


def iam(modules):
    module_dir = os.path.join(ROOT, "terraform", "modules", "silt")
    parsed = modules[module_dir][0]
    local = {k: one(v) for block in parsed.get("locals", []) for k, v in block.items()}
    granted = set(local["silt_s3_object_actions"]) | set(local["silt_s3_bucket_actions"])
    calls = code_s3_actions()
    needed = set().union(*(S3_ACTIONS[op] for op in calls)) if calls else set()
    where = "; ".join(f"{op} in {', '.join(sorted(files))}" for op, files in sorted(calls.items()))
    print(f"static: object-store calls in the code: {where}")
    check(granted == needed, f"IAM actions of the terraform module {sorted(granted)} == those the code issues {sorted(needed)}")


def size(text):
    m = re.fullmatch(r"(\d+)\s*([a-zA-Z]*)", text.strip())
    units = {"": 1, "b": 1, "kb": 10**3, "kib": 2**10, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}
    return int(m.group(1)) * units[m.group(2).lower()]


def manifests(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    return docs


def spool_budget(docs):
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("silt-broker"))
    budget = size(cm["data"]["SILT_WAL_MAX_SPOOL_BYTES"])
    rules = yaml.safe_load(open(os.path.join(ROOT, "infra", "prometheus", "silt-alerts.yaml")))
    rule = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "SiltSpoolNearBudget")
    threshold = int(re.search(r">\s*(\d+)", rule["expr"]).group(1))
    check(threshold == int(budget * 0.8),
          f"SiltSpoolNearBudget threshold {threshold} == 80% of SILT_WAL_MAX_SPOOL_BYTES ({budget})")


def service_monitors(docs, name):
    services = [d for d in docs if d["kind"] == "Service"]
    monitors = [d for d in docs if d["kind"] == "ServiceMonitor"]
    for sm in monitors:
        sel = sm["spec"]["selector"]["matchLabels"]
        hits = [s for s in services if sel.items() <= s["metadata"].get("labels", {}).items()]
        ports = {p.get("name") for s in hits for p in s["spec"]["ports"]}
        wanted = {e["port"] for e in sm["spec"]["endpoints"]}
        check(bool(hits) and wanted <= ports,
              f"{name}: ServiceMonitor {sm['metadata']['name']} selects {[s['metadata']['name'] for s in hits]} with ports {sorted(wanted)}")
    return len(monitors)


def suppressions(rendered):
    """Every checkov suppression has a reason: `checkov.io/skipN: CKV_ID=reason` annotations
    in the rendered manifests, `checkov:skip=CKV_ID:reason` comments in terraform/ and the
    Dockerfile."""
    found = []
    for name, docs in rendered.items():
        for d in docs:
            for key, value in (d["metadata"].get("annotations") or {}).items():
                if key.startswith("checkov.io/skip"):
                    m = re.fullmatch(r"(CKV2?_[A-Z0-9]+_\d+)=(.*)", value, re.S)
                    found.append((f"{name}: {d['kind']}/{d['metadata']['name']}", m.group(1) if m else value,
                                  m.group(2).strip() if m else ""))
    files = glob.glob(os.path.join(ROOT, "terraform", "**", "*.tf"), recursive=True)
    files.append(os.path.join(ROOT, "infra", "Dockerfile"))
    for path in files:
        for line in open(path):
            if "checkov:skip" in line:
                m = re.search(r"checkov:skip=(CKV2?_[A-Z0-9]+_\d+):(.*)", line)
                found.append((os.path.relpath(path, ROOT), m.group(1) if m else line.strip(),
                              m.group(2).strip() if m else ""))
    bad = [f for f in found if len(f[2]) < 15]
    check(not bad, f"{len(found)} checkov suppressions ({len({f[1] for f in found})} check ids), each with a reason"
          + (f"; without one: {bad}" if bad else ""))
    for where, check_id, reason in sorted(set(found)):
        print(f"static:   {check_id} in {where}: {reason}")


def main():
    local, cloud = manifests(sys.argv[1]), manifests(sys.argv[2])
    suppressions({"local-minio": local, "cloud": cloud})
    iam(terraform())
    spool_budget(local)
    spool_budget(cloud)
    check(service_monitors(cloud, "cloud") == 2, "cloud: both ServiceMonitors are rendered")
    check(service_monitors(local, "local-minio") == 0, "local-minio: no ServiceMonitor (no Prometheus Operator CRD on kind)")
    if FAILURES:
        print(f"static: {len(FAILURES)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
