#!/usr/bin/env bash
# bench/tail.sh - the `tail` source (nginx_access recipe) vs mtail on the same log and rules:
# lines/s, CPU seconds per million lines and peak RSS, medians of RUNS alternating runs.
# The method is in bench/tail.py; the mtail program is bench/tail.mtail.
#
# Usage: bash bench/tail.sh
# Env knobs:
#   LINES=1000000   lines in the generated log (~180 MB per million)
#   RUNS=3          runs per tool, alternating
#   RUN_TIMEOUT=300 seconds one run may take before the bench fails
#   NO_BUILD=1      skip `cargo build --release --locked`
#   ADAPTER_BIN=... adapter binary (default target/release/metrics-adapter; implies NO_BUILD)
#   OUT=...         report path (default bench/results/tail-latest.md; raw runs in OUT.tsv)
# Needs: python3, and mtail (Debian package `mtail`: installed here with apt-get when
# missing and we are root, else the script says so and stops).
# Time: ~2 x RUNS x (1 s start + the run) + the log's generation (~10 s per million lines).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"

if ! command -v mtail >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y mtail >/dev/null
  else
    echo "tail.sh: mtail is not installed (apt-get install mtail)" >&2
    exit 1
  fi
fi
# The package enables a system mtail on :3903; the bench's own instances use free ports.

if [ -z "${ADAPTER_BIN:-}" ]; then
  ADAPTER_NOTE=${ADAPTER_NOTE:-"release build of $(cd "$ROOT" && git rev-parse --short HEAD)"}
  ADAPTER_BIN=$ROOT/target/release/metrics-adapter
  if [ -z "${NO_BUILD:-}" ]; then
    (cd "$ROOT" && cargo build --release --locked)
  fi
fi
[ -x "$ADAPTER_BIN" ] || { echo "tail.sh: $ADAPTER_BIN is not an executable" >&2; exit 1; }
ADAPTER_BIN=$(realpath "$ADAPTER_BIN")
# A private copy: a concurrent cargo build cannot swap the binary between runs.
T=$(mktemp -d "${TMPDIR:-/tmp}/tail-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
cp "$ADAPTER_BIN" "$T/metrics-adapter"
ADAPTER_NOTE=${ADAPTER_NOTE:-"ADAPTER_BIN as given"} \
  ADAPTER_BIN="$T/metrics-adapter" timeout 3600 python3 "$HERE/tail.py"
