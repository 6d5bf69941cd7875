#!/usr/bin/env bash
# fuzz.sh - a bounded fuzzing smoke run of every target in fuzz/ (cargo-fuzz, libFuzzer).
#
#   bash tests/fuzz.sh                 # FUZZ_SECONDS=60 per target
#   FUZZ_SECONDS=600 bash tests/fuzz.sh
#
# Needs the nightly toolchain (libFuzzer's sanitizer flags) and cargo-fuzz; both are
# installed here if missing (rustup, cargo install). Each target starts from a corpus
# seeded with the recorded samples in tests/fixtures, so it begins deep in each grammar.
# A crash fails the run and leaves the input in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET="${FUZZ_SECONDS:-60}"
log() { printf '[fuzz] %s\n' "$*" >&2; }

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  log "installing the nightly toolchain (minimal profile)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

corpus=fuzz/corpus
rm -rf "$corpus"
mkdir -p "$corpus/parsers" "$corpus/config" "$corpus/recipe"
# parsers: the first byte picks the parser; give every sample to every parser.
n=0
while IFS= read -r -d '' f; do
  for pick in $(seq 0 31); do
    { printf "\\$(printf '%03o' "$pick")"; cat "$f"; } > "$corpus/parsers/s${n}-p${pick}"
  done
  n=$((n + 1))
done < <(find tests/fixtures/recipes tests/fixtures/samples -type f \( -name '*.input' -o -path '*/samples/*' \) -size -256k -print0)
cp config.example.toml src/default-config.toml "$corpus/config/" 2>/dev/null || cp config.example.toml "$corpus/config/"
find deploy -name '*.toml' -exec cp {} "$corpus/config/" \; 2>/dev/null || true
cp parsers/*.toml "$corpus/recipe/"
log "corpus: $(ls "$corpus/parsers" | wc -l) parser inputs, $(ls "$corpus/config" | wc -l) configs, $(ls "$corpus/recipe" | wc -l) recipes"

mkdir -p fuzz/logs
for target in parsers config recipe; do
  log "$target: ${SECONDS_PER_TARGET}s"
  status=0
  cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$corpus/$target" -- \
    -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    > "fuzz/logs/$target.log" 2>&1 || status=$?
  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|panicked' "fuzz/logs/$target.log" >&2 || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "fuzz/logs/$target.log" >&2
    log "FAILED: $target (exit $status); crashing inputs, if any, in fuzz/artifacts/$target/"
    exit 1
  fi
done
log "no crashes"
