#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine with Rust installed:
#   bash tests/run.sh              # every stage, in order (what CI runs)
#   bash tests/run.sh lib          # one stage alone (or several: `lint lib`)
#   bash tests/run.sh --help       # the stages, what each installs, rough times
# CI runs all of it: a missing server is a failure naming its package, never a skip.
# On a laptop without the servers, the server-free tier is `bash tests/run.sh lib`
# (unit, golden and property tests); `integration` needs the `setup` stage first.
set -euo pipefail
cd "$(dirname "$0")/.."

# name|what it runs and installs|rough time on 2 cores (warm target/; a cold build adds
# about 5 minutes to the first stage that compiles)
STAGES=(
  "setup|installs the real servers and tools (tests/setup.sh: apt-get, and kubernetes-validate from PyPI); fast when all are installed|seconds; a few minutes on a fresh machine"
  "lint|cargo fmt --check; cargo clippy --all-targets -D warnings|1-2 min"
  "lib|server-free: unit, golden and property tests (cargo test --lib --bins), and each benchmark run once as a test (--benches); needs Rust and openssl only|under 1 min once built"
  "integration|the real binary against real nginx, redis, memcached, haproxy, apache2, php-fpm and their exporters, pages read back by promtool and Python (cargo test --test integration); needs setup|2-3 min (105-144 s measured under load)"
  "deploy|deploy/test/validate.sh (Kubernetes schemas, kubectl kustomize, every embedded config), rules.sh (the shipped alerting rules: promtool check rules and promtool test rules) and rehearse.sh (a local pod scraped by a real Prometheus); needs setup|about 40 s"
  "pods|deploy/test/pod.sh: builds the images offline and runs the examples' pods in podman, scraped by Prometheus; needs setup|about 5 min (264 s measured, static build included)"
  "fuzz|tests/fuzz.sh: every fuzz target for FUZZ_SECONDS (default 60) each; installs nightly and cargo-fuzz if missing|5 min (3 targets), plus their first build"
)

usage() {
  echo "usage: bash tests/run.sh [STAGE...]    (no stage: all of them, in this order)"
  echo
  local entry name what time
  for entry in "${STAGES[@]}"; do
    IFS='|' read -r name what time <<<"$entry"
    printf '  %s (%s)\n' "$name" "$time"
    fold -s -w 76 <<<"$what" | sed 's/^/      /'
  done
}

step() { printf '\n==> %s\n' "$*"; }

run_stage() {
  case "$1" in
    setup)
      step "installing test dependencies"
      bash tests/setup.sh
      ;;
    lint)
      step "cargo fmt --check"
      cargo fmt --all -- --check
      step "cargo clippy"
      cargo clippy --locked --all-targets -- -D warnings
      ;;
    lib)
      step "cargo test: unit, golden and property tests (server-free), benchmarks once"
      cargo test --locked --lib --bins --benches
      ;;
    integration)
      step "cargo test: integration, against real servers"
      cargo test --locked --test integration
      ;;
    deploy)
      cargo build --locked --quiet
      step "deploy/: manifest and config validation"
      ADAPTER_BIN="$PWD/target/debug/metrics-adapter" bash deploy/test/validate.sh
      step "deploy/prometheus/: alerting rules (promtool check rules, promtool test rules)"
      bash deploy/test/rules.sh
      step "deploy/: local pod rehearsal with a real Prometheus"
      ADAPTER_BIN="$PWD/target/debug/metrics-adapter" bash deploy/test/rehearse.sh
      ;;
    pods)
      step "deploy/: the examples' pods in podman, images built here, scraped by Prometheus"
      bash deploy/test/pod.sh
      ;;
    fuzz)
      step "fuzzing smoke run (bounded)"
      bash tests/fuzz.sh
      ;;
  esac
}

names=()
for entry in "${STAGES[@]}"; do names+=("${entry%%|*}"); done

selected=()
for arg in "$@"; do
  case "$arg" in
    -h | --help)
      usage
      exit 0
      ;;
    *)
      if [[ " ${names[*]} " != *" $arg "* ]]; then
        echo "tests/run.sh: no stage \"$arg\"" >&2
        usage >&2
        exit 2
      fi
      selected+=("$arg")
      ;;
  esac
done
if [ "${#selected[@]}" -eq 0 ]; then selected=("${names[@]}"); fi

# The golden test rewrites its expected files when UPDATE_GOLDEN=1: a run that checks
# must never do that.
if [ -n "${UPDATE_GOLDEN+set}" ]; then
  echo "tests/run.sh: UPDATE_GOLDEN is set; unset it (UPDATE_GOLDEN=1 cargo test --lib golden" >&2
  echo "rewrites the golden files, on purpose, outside this script)" >&2
  exit 2
fi

for stage in "${selected[@]}"; do run_stage "$stage"; done
step "all checks passed: ${selected[*]}"
