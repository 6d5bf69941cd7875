#!/usr/bin/env bash
# validate.sh - static checks of deploy/: manifests, adapter configs, Prometheus config.
#
#   ADAPTER_BIN=target/debug/metrics-adapter bash deploy/test/validate.sh
#
#  1. renders every kustomization under deploy/kubernetes (manifests.py: the subset of
#     Kustomize they use) and validates every object against the Kubernetes JSON schemas of
#     kubernetes-validate (PyPI), strictly (unknown fields fail), for Kubernetes 1.29 (the
#     oldest the native-sidecar example runs on) and the newest version it ships
#     (KUBE_VERSIONS overrides);
#  2. renders them with `kubectl kustomize` too and checks that it yields the same objects
#     (generated names' hashes aside). Debian 12's kubectl (kubernetes-client 1.20, which
#     tests/setup.sh installs when there is no kubectl) embeds kustomize v2, which takes a
#     directory only under `bases:`: for it, a kustomization listing directories under
#     `resources:` is rendered from a copy that lists them under `bases:`, nothing else
#     changed (kubectl >= 1.21 renders the files as they are);
#  3. cross-checks the manifests (manifests.py check): probes, ports, annotations, security
#     contexts, resources, the adapter's --config wired to its ConfigMap, file sources on a
#     volume the app writes, the PodMonitor (a CRD: checked structurally, not by schema)
#     selecting every example pod, the Dockerfile's user, port and version, and
#     Containerfile.offline (the image built without a registry) agreeing with it;
#  4. runs `$ADAPTER_BIN check --config FILE` on every adapter TOML that a ConfigMap is made of;
#  5. `promtool check config` on a prometheus.yml embedding deploy/prometheus/scrape-config.yaml.
#
# Prints "validate: N passed, M failed" and exits 1 if M > 0.
set -euo pipefail

if [ -n "${ADAPTER_BIN:-}" ]; then ADAPTER_BIN=$(realpath -m "$ADAPTER_BIN"); fi
cd "$(dirname "$0")/../.."
ADAPTER_BIN=${ADAPTER_BIN:-$PWD/target/debug/metrics-adapter}
ROOT=deploy/kubernetes
MANIFESTS="python3 deploy/test/manifests.py"

passed=0
failed=0
pass() { passed=$((passed + 1)); printf 'ok - %s\n' "$*"; }
fail() { failed=$((failed + 1)); printf 'FAIL - %s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
# record: print "ok - ..." / "FAIL - ..." lines from stdin and count them.
record() {
  local line
  while IFS= read -r line; do
    case $line in
      "ok - "*) passed=$((passed + 1)) ;;
      "FAIL - "*) failed=$((failed + 1)) ;;
    esac
    printf '%s\n' "$line"
  done
}

T=$(mktemp -d "${TMPDIR:-/tmp}/metrics-adapter-validate.XXXXXX")
trap 'rm -rf "$T"' EXIT

for tool in python3 /usr/bin/promtool; do
  command -v "$tool" >/dev/null || { echo "validate: $tool not found (bash tests/setup.sh installs it)"; exit 1; }
done
python3 -c 'import yaml, tomllib' || { echo "validate: python3 needs PyYAML and Python >= 3.11"; exit 1; }
python3 -c 'import kubernetes_validate' ||
  { echo "validate: python3 cannot import kubernetes_validate (bash tests/setup.sh installs it)"; exit 1; }
command -v kubectl >/dev/null && kubectl kustomize --help >/dev/null 2>&1 ||
  { echo "validate: no kubectl with kustomize (bash tests/setup.sh installs kubernetes-client)"; exit 1; }
[ -x "$ADAPTER_BIN" ] || { echo "validate: ADAPTER_BIN=$ADAPTER_BIN is not an executable"; exit 1; }

# ---- 1. Kubernetes schemas ----------------------------------------------------------------
step "rendering the kustomizations"
mapfile -t kustomizations < <($MANIFESTS kustomizations "$ROOT")
[ "${#kustomizations[@]}" -gt 0 ] || fail "no kustomization.yaml under $ROOT"
rendered=()
for k in "${kustomizations[@]}"; do
  out="$T/$(echo "$k" | tr / _).yaml"
  if $MANIFESTS render "$k" >"$out" 2>"$T/err"; then
    pass "$k: rendered"
    rendered+=("$out")
  else
    fail "$k: does not render: $(cat "$T/err")"
  fi
done

latest=$(python3 -c 'import kubernetes_validate; print(kubernetes_validate.latest_version())')
read -r -a versions <<<"${KUBE_VERSIONS:-1.29.0 $latest}"
for v in "${versions[@]}"; do
  step "Kubernetes $v schemas (python3 -m kubernetes_validate --strict)"
  for f in "${rendered[@]}"; do
    docs=$(python3 -c 'import sys, yaml; print(sum(1 for d in yaml.safe_load_all(open(sys.argv[1])) if d))' "$f")
    rc=0
    python3 -m kubernetes_validate --strict -k "$v" "$f" >"$T/kv" 2>&1 || rc=$?
    ok=$(grep -c ' passed for resource ' "$T/kv" || true)
    name=$(basename "$f" .yaml | tr _ /)
    if [ "$rc" -eq 0 ] && [ "$ok" -eq "$docs" ] && ! grep -qE '^(WARN|ERROR|FATAL)' "$T/kv"; then
      pass "$name: all $docs objects valid for Kubernetes $v"
    else
      fail "$name: Kubernetes $v (exit $rc, $ok of $docs valid):"
      grep -v ' passed for resource ' "$T/kv" | sed 's/^/    /'
    fi
  done
done

# ---- 2. the real kustomize ---------------------------------------------------------------
step "kubectl kustomize renders the same objects"
kubectl_minor=$(kubectl version --client -o json 2>/dev/null |
  python3 -c 'import json, re, sys; print(re.match(r"\d+", json.load(sys.stdin)["clientVersion"]["minor"]).group())')
kustomize_dir=$ROOT
if [ "$kubectl_minor" -lt 21 ]; then
  # kustomize v2: the same tree, directories listed under `bases:` (see the header).
  kustomize_dir="$T/kustomize-v2"
  cp -r "$ROOT" "$kustomize_dir"
  python3 - "$kustomize_dir" <<'PY'
import os, sys, yaml
for top, _, files in os.walk(sys.argv[1]):
    if "kustomization.yaml" not in files:
        continue
    path = os.path.join(top, "kustomization.yaml")
    k = yaml.safe_load(open(path))
    dirs = [r for r in k.get("resources", []) if os.path.isdir(os.path.join(top, r))]
    if dirs:
        k["resources"] = [r for r in k["resources"] if r not in dirs]
        k["bases"] = k.get("bases", []) + dirs
        yaml.safe_dump(k, open(path, "w"), sort_keys=False)
PY
  echo "kubectl 1.$kubectl_minor (kustomize v2): directories in resources: given as bases:"
fi
for k in "${kustomizations[@]}"; do
  if ! kubectl kustomize "$kustomize_dir${k#"$ROOT"}" >"$T/kubectl.yaml" 2>"$T/err"; then
    fail "$k: kubectl kustomize failed: $(cat "$T/err")"
  elif $MANIFESTS compare "$k" "$T/kubectl.yaml" >"$T/diff" 2>&1; then
    pass "$k: kubectl kustomize (1.$kubectl_minor) yields the objects validated above"
  else
    fail "$k: kubectl kustomize yields other objects than manifests.py:"
    sed 's/^/    /' "$T/diff"
  fi
done

# ---- 3. cross-checks ----------------------------------------------------------------------
step "cross-checks (manifests.py check)"
rc=0
$MANIFESTS check "$ROOT" . >"$T/check" 2>&1 || rc=$?
record <"$T/check"
if [ "$rc" -ne 0 ] && ! grep -q '^FAIL - ' "$T/check"; then
  fail "manifests.py check exited $rc without naming a failed check"
fi

# ---- 4. adapter configs -------------------------------------------------------------------
step "adapter configs ($ADAPTER_BIN check)"
mapfile -t configs < <($MANIFESTS adapter-configs "$ROOT")
[ "${#configs[@]}" -gt 0 ] || fail "no adapter config found in any ConfigMap"
for cfg in "${configs[@]}"; do
  if "$ADAPTER_BIN" check --config "$cfg" >"$T/out" 2>&1; then
    pass "$cfg: $(grep -m1 '^sources:' "$T/out" || echo checked)"
  else
    fail "$cfg: $(cat "$T/out")"
  fi
done

# ---- 5. Prometheus scrape config ----------------------------------------------------------
step "promtool check config (deploy/prometheus/scrape-config.yaml)"
scrape=deploy/prometheus/scrape-config.yaml
$MANIFESTS prometheus-yml "$scrape" >"$T/prometheus.yml"
if /usr/bin/promtool check config "$T/prometheus.yml" >"$T/out" 2>&1; then
  pass "$scrape: valid in a prometheus.yml ($(/usr/bin/promtool --version 2>&1 | head -1))"
elif grep -q 'field kubernetes_sd_configs not found' "$T/out"; then
  # Debian's prometheus package is built without Kubernetes service discovery.
  echo "note: this promtool has no Kubernetes service discovery (Debian's build); checking"
  echo "      kubernetes_sd_configs here and the rest of the job with promtool"
  if $MANIFESTS prometheus-yml "$scrape" without-kubernetes-sd >"$T/prometheus.yml" 2>"$T/err" &&
    /usr/bin/promtool check config "$T/prometheus.yml" >"$T/out" 2>&1; then
    pass "$scrape: valid in a prometheus.yml (kubernetes_sd_configs checked by manifests.py)"
  else
    fail "$scrape: $(cat "$T/err" "$T/out")"
  fi
else
  fail "$scrape: $(cat "$T/out")"
fi

printf '\nvalidate: %d passed, %d failed\n' "$passed" "$failed"
[ "$failed" -eq 0 ]
