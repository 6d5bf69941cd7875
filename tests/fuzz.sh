#!/usr/bin/env bash
# fuzz.sh - a bounded fuzzing run of every target in fuzz/ (cargo-fuzz, libFuzzer).
#
#   bash tests/fuzz.sh                                  # FUZZ_SECONDS=60 per target (CI)
#   FUZZ_SECONDS=3600 FUZZ_TARGETS=parsers bash tests/fuzz.sh   # a long run, one target
#
# Needs the nightly toolchain (libFuzzer's instrumentation flags) and cargo-fuzz; both are
# installed here if missing (rustup, cargo install). Each target starts from a small corpus
# kept in the repo (fuzz/seeds/parsers, the shipped configs and recipes), with a dictionary
# of multi-byte UTF-8 and date/time-zone text (fuzz/dict/). See fuzz/README.md for the
# choices that make it fast (no sanitizer, capped input length, one page format per input)
# and the rates reached. A crash fails the run and leaves the input in
# fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
TARGETS="${FUZZ_TARGETS:-parsers config recipe}"
log() { printf '[fuzz] %s\n' "$*" >&2; }

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  log "installing the nightly toolchain (minimal profile)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# No sanitizer: the crate forbids unsafe code, so AddressSanitizer would only watch our
# dependencies' unsafe code, at about half the speed; what we hunt is panics (slices,
# indexing, unwrap, overflow), which libFuzzer sees as crashes without it. Debug assertions
# and overflow checks stay on (cargo-fuzz's default): an overflow is a wrong number.
BUILD_FLAGS=(--fuzz-dir fuzz --sanitizer none)

corpus=fuzz/corpus
rm -rf "$corpus"
mkdir -p "$corpus/parsers" "$corpus/config" "$corpus/recipe"
cp fuzz/seeds/parsers/* "$corpus/parsers/"
cp config.example.toml src/default-config.toml "$corpus/config/"
find deploy -name '*.toml' -exec cp {} "$corpus/config/" \; 2>/dev/null || true
cp parsers/*.toml "$corpus/recipe/"
log "corpus: $(ls "$corpus/parsers" | wc -l) parser inputs, $(ls "$corpus/config" | wc -l) configs, $(ls "$corpus/recipe" | wc -l) recipes"

# Per target: the longest input libFuzzer makes (bytes) and its dictionary. The targets
# also skip longer inputs themselves (MAX_INPUT), for runs started by hand.
max_len() { case "$1" in parsers) echo 4097 ;; config) echo 16384 ;; *) echo 24576 ;; esac; }
dict() { case "$1" in parsers) echo fuzz/dict/parsers.dict ;; *) echo fuzz/dict/toml.dict ;; esac; }

mkdir -p fuzz/logs
log "building the targets"
cargo +nightly fuzz build "${BUILD_FLAGS[@]}" > fuzz/logs/build.log 2>&1 || {
  tail -n 40 fuzz/logs/build.log >&2
  exit 1
}
for target in $TARGETS; do
  log "$target: ${SECONDS_PER_TARGET}s"
  status=0
  cargo +nightly fuzz run "${BUILD_FLAGS[@]}" "$target" "$corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -max_len="$(max_len "$target")" \
    -dict="$(dict "$target")" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    > "fuzz/logs/$target.log" 2>&1 || status=$?
  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|panicked' "fuzz/logs/$target.log" >&2 || true
  grep -E '^#[0-9]+[[:space:]]+DONE' "fuzz/logs/$target.log" | sed "s/^/[fuzz] $target: /" >&2 || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "fuzz/logs/$target.log" >&2
    log "FAILED: $target (exit $status); crashing inputs, if any, in fuzz/artifacts/$target/"
    exit 1
  fi
done
log "no crashes"
