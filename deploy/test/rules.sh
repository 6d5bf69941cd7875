#!/usr/bin/env bash
# rules.sh - the adapter's alerting rules (deploy/prometheus/alerts.yaml):
#  1. `promtool check rules`: they parse, and every expression is valid PromQL;
#  2. `promtool test rules deploy/prometheus/alerts_test.yaml`: every alert fires in one
#     case (exact labels and annotations) and stays silent in another;
#  3. the PrometheusRule (prometheusrule.yaml) holds exactly the groups of alerts.yaml;
#  4. every alert has a runbook section in docs/operations.md, and every runbook an alert.
#
# Prints "rules: N passed, M failed" and exits 1 if M > 0.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v promtool >/dev/null || { echo "rules: promtool not found (bash tests/setup.sh installs it)"; exit 1; }

passed=0
failed=0
check() { # check NAME COMMAND...: one "ok"/"FAIL" line, the command's output on failure
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    passed=$((passed + 1)); printf 'ok - %s\n' "$name"
  else
    failed=$((failed + 1)); printf 'FAIL - %s\n%s\n' "$name" "$out"
  fi
}

check "promtool check rules deploy/prometheus/alerts.yaml" \
  promtool check rules deploy/prometheus/alerts.yaml
check "promtool test rules deploy/prometheus/alerts_test.yaml" \
  promtool test rules deploy/prometheus/alerts_test.yaml
check "prometheusrule.yaml holds the groups of alerts.yaml, and docs/operations.md a runbook for each alert" \
  python3 - <<'PY'
import re, sys, yaml
plain = yaml.safe_load(open("deploy/prometheus/alerts.yaml"))["groups"]
rule = yaml.safe_load(open("deploy/prometheus/prometheusrule.yaml"))
if rule.get("kind") != "PrometheusRule" or rule["spec"]["groups"] != plain:
    sys.exit("deploy/prometheus/prometheusrule.yaml: spec.groups differs from alerts.yaml")
alerts = [r["alert"] for g in plain for r in g["rules"] if "alert" in r]
docs = open("docs/operations.md").read()
runbooks = re.findall(r"^### (MetricsAdapter\w+)$", docs, re.M)
errors = []
for a in alerts:
    want = f"docs/operations.md#{a.lower()}"
    r = next(r for g in plain for r in g["rules"] if r.get("alert") == a)
    if r["annotations"].get("runbook") != want:
        errors.append(f"{a}: runbook annotation is not {want}")
    if a not in runbooks:
        errors.append(f"{a}: no '### {a}' section in docs/operations.md")
errors += [f"docs/operations.md: runbook {a} for no alert" for a in runbooks if a not in alerts]
sys.exit("\n".join(errors) or None)
PY

echo "rules: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
