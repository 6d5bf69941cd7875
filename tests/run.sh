#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine with Rust installed:
#   bash tests/run.sh
# 1. installs the real servers and tools the tests talk to (tests/setup.sh: apt-get, pip);
# 2. checks formatting and lints;
# 3. runs unit, golden and integration tests (real nginx, redis, memcached, haproxy,
#    apache2, php-fpm and promtool, all on 127.0.0.1);
# 4. validates deploy/ (Kubernetes schemas, every embedded adapter config) and rehearses a
#    pod locally with a real Prometheus scraping the adapter; builds the image offline and
#    runs the examples' pods in podman (deploy/test/pod.sh), scraped by Prometheus; unit-tests
#    the shipped alerting rules (deploy/test/rules.sh: promtool test rules);
# 5. fuzzes every parser, the config loader and the recipe loader for a bounded time
#    (tests/fuzz.sh: FUZZ_SECONDS per target, default 60; installs nightly + cargo-fuzz).
# CI runs this, all of it: a missing server is a failure naming its package, never a skip.
# On a laptop without the servers, the server-free tier is `cargo test --lib` (unit, golden
# and property tests); `cargo test --test integration` needs `bash tests/setup.sh` first.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "installing test dependencies"
bash tests/setup.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --locked --all-targets -- -D warnings

step "cargo test (unit, golden, integration against real servers)"
cargo test --locked --all-targets

step "deploy/: manifest and config validation"
cargo build --locked --quiet
ADAPTER_BIN="$PWD/target/debug/metrics-adapter" bash deploy/test/validate.sh

step "deploy/prometheus/: alerting rules (promtool check rules, promtool test rules)"
bash deploy/test/rules.sh

step "deploy/: local pod rehearsal with a real Prometheus"
ADAPTER_BIN="$PWD/target/debug/metrics-adapter" bash deploy/test/rehearse.sh

step "deploy/: the examples' pods in podman, images built here, scraped by Prometheus"
bash deploy/test/pod.sh

step "fuzzing smoke run (bounded)"
bash tests/fuzz.sh

step "all checks passed"
