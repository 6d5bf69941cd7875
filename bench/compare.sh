#!/usr/bin/env bash
# bench/compare.sh - whole-system benchmark: metrics-adapter vs the official Debian exporters.
#
# For each app (nginx, redis, haproxy, apache, memcached, phpfpm, bigpage) it starts, on
# 127.0.0.1 only and on free ports chosen at run time:
#   * the app itself (Debian binary, foreground, minimal config in a mktemp dir),
#   * metrics-adapter (a private copy of target/release/metrics-adapter, so a concurrent
#     cargo build cannot swap it between apps) with that app's built-in recipe,
#   * the app's official Debian exporter (prometheus-*-exporter), where Debian has one
#     (memcached and php-fpm have none in Debian 12, and no Go toolchain reaches the module
#     proxy here: those two are measured against their floor only),
#   * a second metrics-adapter reading the same source in the background (`interval`,
#     INTERVAL=1s), whose page is served from its last read ("adapter-interval"),
# then drives /metrics of the adapter and of the exporter with wrk, alternating A/B
# (adapter, exporter, floor, adapter, exporter, floor, ...) RUNS times each, plus the "floor":
# the app's own stats page fetched directly (redis: redis-benchmark running `INFO all`;
# memcached: bench/tcp_floor.py sending `stats`). "bigpage" is HAProxy's CSV for 2,000
# servers (~520 KB, ~80k series), a static file served by nginx, read by the adapter (http
# source, haproxy_csv) and by prometheus-haproxy-exporter from the same URL. "phpfpm" is
# php-fpm's `?json&full` status behind nginx (fastcgi_pass): adapter and floor fetch the
# same URL, so the floor is what the adapter's own read costs.
# It measures requests/s, p50/p99 latency (wrk --latency), CPU seconds per 1,000 scrapes
# (utime+stime from /proc/PID/stat), RSS idle and under load (VmRSS sampled every 0.5 s),
# and the adapter's RSS after ~1k scrapes vs after all runs (memory growth).
#
# Output: a Markdown report on stdout and in bench/results/compare-latest.md; raw numbers in
# bench/results/compare-latest.runs.tsv and .procs.tsv, the run's facts in .env. Exits
# non-zero, with a message naming what failed, if a server or exporter does not come up, a
# source is down (before, during or after the runs), or wrk sees non-2xx/3xx responses.
#
# Usage: bash bench/compare.sh
# Env knobs:
#   DURATION=10     seconds per wrk run (a trailing "s" is accepted)
#   RUNS=3          runs per target (adapter, exporter, floor), alternating
#   CONNS=4         concurrent connections (wrk -c, redis-benchmark -c); wrk uses one thread
#   APPS="nginx redis haproxy apache memcached phpfpm bigpage"   subset/order of apps
#   INTERVAL=1      seconds between background reads of the adapter-interval target (0: skip it)
#   WARMUP=1000     scrapes put on adapter and exporter before the measured runs (wrk, -c CONNS)
#   FLOOR_CLOSE=1   one extra floor run per HTTP app with "Connection: close" (0: skip)
#   NO_BUILD=1      skip `cargo build --release --locked` (use the existing binary)
#   ADAPTER_BIN=... adapter binary (default target/release/metrics-adapter; implies NO_BUILD),
#                   e.g. one built from a clean `git archive HEAD`; ADAPTER_NOTE=... describes it
#   BASELINE=COMMIT another adapter build measured side by side (target "baseline", in the
#                   same alternation: adapter, baseline, exporter, floor, ...): COMMIT is built
#                   in a temporary git worktree with `cargo build --release --locked` (its own
#                   release settings) and cached as target/baseline/COMMIT-SHA/metrics-adapter;
#                   BASELINE_TARGET=x86_64-unknown-linux-musl builds it for that target (compare
#                   static build with static build). The report adds adapter/baseline ratios.
#   BASELINE_BIN=.. the baseline as a binary already built (instead of BASELINE)
#   OUT=...         report path (default bench/results/compare-latest.md)
# Time: per app 3 x RUNS x DURATION (+ DURATION for the Connection: close floor) + ~15 s of
# start-up and warm-up: 414 s with the defaults on a 2-vCPU box, plus the release build
# (~1 min incremental, ~4 min from cold with LTO).
# Needs: wrk, curl, python3, redis-tools, nginx(-light), redis-server, haproxy, apache2,
#   prometheus-{nginx,redis,haproxy,apache}-exporter (all Debian 12 packages).
set -euo pipefail

DURATION=${DURATION:-10}; DURATION=${DURATION%s}
RUNS=${RUNS:-3}
CONNS=${CONNS:-4}
APPS=${APPS:-nginx redis haproxy apache memcached phpfpm bigpage}
INTERVAL=${INTERVAL:-1}
WARMUP=${WARMUP:-1000}
H=127.0.0.1

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
OUT=${OUT:-$ROOT/bench/results/compare-latest.md}
ADAPTER_BIN=${ADAPTER_BIN:-}
NO_BUILD=${NO_BUILD:-}
BASELINE=${BASELINE:-}
BASELINE_BIN=${BASELINE_BIN:-}
BASELINE_TARGET=${BASELINE_TARGET:-}

[[ $INTERVAL =~ ^[0-9]+$ ]] || { echo "compare.sh: INTERVAL must be a whole number of seconds, got '$INTERVAL'" >&2; exit 2; }
for v in DURATION RUNS CONNS WARMUP; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: $v must be a positive integer, got '${!v}'" >&2; exit 2; }
done

log() { printf '[compare %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { printf '\ncompare.sh: FAILED: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------ processes and cleanup
WORK=$(mktemp -d /tmp/metrics-adapter-compare.XXXXXX)
LOGS="$WORK/logs"; mkdir -p "$LOGS"
chmod 755 "$WORK"   # apache workers run as www-data and must traverse into it
GROUPS_STARTED=()   # PIDs of process-group leaders we started (setsid)
HELPERS=()          # plain background helpers (RSS samplers)

stop_group() {      # stop_group PID: TERM the whole group, KILL after 5 s
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  for p in "${HELPERS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${GROUPS_STARTED[@]}"; do stop_group "$p"; done
  if [ "$rc" -ne 0 ] && [ -d "$LOGS" ]; then
    echo "compare.sh: logs kept in $WORK/logs" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# spawn NAME CMD... : start CMD in a new session/process group (setsid does not fork here:
# a background job of a non-interactive shell is not a group leader), output to $LOGS/NAME.log.
# Sets SPAWNED to its PID, which is the group id.
SPAWNED=
spawn() {
  local name=$1; shift
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  SPAWNED=$!
  GROUPS_STARTED+=("$SPAWNED")
  log "started $name (pid $SPAWNED): $*"
}

# free_ports N : N distinct free TCP ports on 127.0.0.1 (bind port 0, then release)
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
}

alive_or_die() {    # alive_or_die PID NAME
  kill -0 "$1" 2>/dev/null && return 0
  die "$2 (pid $1) exited during start-up; $(log_tail "$2")"
}
log_tail() {        # the last lines of NAME's output and error log (nginx/apache write their own)
  local f
  for f in "$LOGS/$1.log" "$LOGS/$1-error.log"; do
    [ -s "$f" ] && printf 'last lines of %s:\n%s\n' "$f" "$(tail -n 10 "$f")"
  done
  return 0
}

# wait_http NAME PID URL [GREP_PATTERN] : up to 15 s for a 2xx answer (containing the pattern)
wait_http() {
  local name=$1 pid=$2 url=$3 pat=${4:-} i body
  for i in $(seq 150); do
    alive_or_die "$pid" "$name"
    if body=$(curl -fsS --max-time 2 "$url" 2>/dev/null); then
      if [ -z "$pat" ] || grep -qE "$pat" <<<"$body"; then return 0; fi
    fi
    sleep 0.1
  done
  die "$name did not come up: no 2xx answer${pat:+ matching /$pat/} from $url within 15 s
last answer: $(curl -sS --max-time 2 -o /dev/null -w 'HTTP %{http_code}' "$url" 2>&1 | head -3)
$(log_tail "$name")"
}

wait_redis() {      # wait_redis NAME PID PORT
  local i
  for i in $(seq 150); do
    alive_or_die "$2" "$1"
    [ "$(redis-cli -h $H -p "$3" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  die "$1 did not answer PING on $H:$3 within 15 s"
}

cpu_ticks() {       # utime+stime of the whole process (all threads), in clock ticks
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  s=${s##*) }       # drop "pid (comm) "; then field 14/15 of stat are words 12/13
  set -- $s
  echo $(( ${12} + ${13} ))
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# rss_anon_kb PID -> "VmRSS RssAnon" (RssAnon: private heap/stack pages; the rest of VmRSS is
# mostly the mapped binary and shared libraries)
rss_anon_kb() { awk '/^VmRSS:/ {r = $2} /^RssAnon:/ {a = $2} END {print r + 0, a + 0}' "/proc/$1/status" 2>/dev/null; }

# metric_value URL SERIES : the value of the sample line starting with "SERIES " (literal)
metric_value() {
  curl -fsS --max-time 5 "$1" 2>/dev/null | awk -v p="$2 " '!done && index($0, p) == 1 { print $NF; done = 1 }'
}
# metric_sum URL NAME SOURCE : the sum of NAME's samples labelled source="SOURCE" (over its
# other labels, e.g. read failures by kind, listed only once non-zero); 0 when there is none
metric_sum() {
  curl -fsS --max-time 5 "$1" 2>/dev/null \
    | awk -v p="$2{" -v s="source=\"$3\"" 'index($0, p) == 1 && index($0, s) { t += $NF; n++ } END { print t + 0 }'
}

# ------------------------------------------------------------------ pre-flight
need() { command -v "$1" >/dev/null 2>&1 || die "missing '$1' (Debian package: $2)"; }
need wrk wrk; need curl curl; need python3 python3; need setsid util-linux
need redis-benchmark redis-tools; need redis-cli redis-tools
for a in $APPS; do
  case $a in
    nginx) need /usr/sbin/nginx nginx-light; need prometheus-nginx-exporter prometheus-nginx-exporter ;;
    redis) need /usr/bin/redis-server redis-server; need prometheus-redis-exporter prometheus-redis-exporter ;;
    haproxy) need /usr/sbin/haproxy haproxy; need prometheus-haproxy-exporter prometheus-haproxy-exporter ;;
    apache) need /usr/sbin/apache2 apache2; need prometheus-apache-exporter prometheus-apache-exporter
            [ -e /usr/lib/apache2/modules/mod_status.so ] || die "missing /usr/lib/apache2/modules/mod_status.so (apache2-bin)" ;;
    memcached) need /usr/bin/memcached memcached ;;
    phpfpm) need /usr/sbin/nginx nginx-light; PHP_FPM=$(ls /usr/sbin/php-fpm* 2>/dev/null | sort -V | tail -1)
            [ -n "$PHP_FPM" ] || die "missing /usr/sbin/php-fpm* (Debian package: php-fpm)" ;;
    bigpage) need /usr/sbin/nginx nginx-light; need prometheus-haproxy-exporter prometheus-haproxy-exporter ;;
    *) die "unknown app '$a' in APPS (nginx redis haproxy apache memcached phpfpm bigpage)" ;;
  esac
done
CLK_TCK=$(getconf CLK_TCK)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average before: $LOAD_BEFORE ($(nproc) CPUs)"
T0=$(date +%s)

# ------------------------------------------------------------------ build
if [ -z "$ADAPTER_BIN" ]; then
  ADAPTER_BIN="$ROOT/target/release/metrics-adapter"
  if [ -z "$NO_BUILD" ]; then
    log "cargo build --release --locked"
    (cd "$ROOT" && cargo build --release --locked) >"$LOGS/cargo-build.log" 2>&1 \
      || die "cargo build --release --locked failed:
$(tail -n 30 "$LOGS/cargo-build.log")"
  fi
fi
[ -x "$ADAPTER_BIN" ] || die "adapter binary $ADAPTER_BIN not found (build it, or unset NO_BUILD)"
# Run a private copy: target/ may be rebuilt (by another cargo run) while the apps go by,
# and every app must be measured with the same binary.
cp "$ADAPTER_BIN" "$WORK/metrics-adapter"
T_BUILT=$(date +%s)
ADAPTER_VERSION=$("$WORK/metrics-adapter" --version 2>/dev/null || echo unknown)
if [ "$ADAPTER_BIN" = "$ROOT/target/release/metrics-adapter" ]; then
  ADAPTER_VERSION="$ADAPTER_VERSION, target/release built from the work tree at commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
  [ -z "$(git -C "$ROOT" status --porcelain -- src Cargo.toml Cargo.lock parsers 2>/dev/null)" ] \
    || ADAPTER_VERSION="$ADAPTER_VERSION with uncommitted changes"
else
  ADAPTER_VERSION="$ADAPTER_VERSION, $ADAPTER_BIN${ADAPTER_NOTE:+ ($ADAPTER_NOTE)}"
fi
ADAPTER_VERSION="$ADAPTER_VERSION; $(stat -c %s "$WORK/metrics-adapter") bytes, sha256 $(sha256sum "$WORK/metrics-adapter" | cut -c1-12)"
ADAPTER_BIN="$WORK/metrics-adapter"

# ------------------------------------------------------------------ baseline build
# build_baseline COMMIT -> the path of its release binary, built once in a temporary git
# worktree (the commit's own Cargo.toml and Cargo.lock) and cached under target/baseline/.
# The worktree's target dir is shared between baselines (target/baseline/target), so a
# second commit rebuilds only the crate and what changed.
build_baseline() {
  local sha dir bin src triple=${BASELINE_TARGET:+$BASELINE_TARGET/}
  sha=$(git -C "$ROOT" rev-parse --verify --quiet "$1^{commit}") \
    || die "BASELINE=$1 is not a commit of this repository"
  dir="$ROOT/target/baseline/$sha${BASELINE_TARGET:+-$BASELINE_TARGET}"
  bin="$dir/metrics-adapter"
  if [ -x "$bin" ]; then log "baseline $1 ($sha): cached $bin"; echo "$bin"; return 0; fi
  src="$WORK/baseline-src"
  log "baseline $1 ($sha): git worktree add, cargo build --release --locked ${BASELINE_TARGET:+--target $BASELINE_TARGET}"
  git -C "$ROOT" worktree add --detach "$src" "$sha" >"$LOGS/baseline-worktree.log" 2>&1 \
    || die "git worktree add of $sha failed: $(tail -n 5 "$LOGS/baseline-worktree.log")"
  local ok=0
  (cd "$src" && CARGO_TARGET_DIR="$ROOT/target/baseline/target" \
    cargo build --release --locked ${BASELINE_TARGET:+--target "$BASELINE_TARGET"}) \
    >"$LOGS/baseline-build.log" 2>&1 || ok=$?
  git -C "$ROOT" worktree remove --force "$src" >/dev/null 2>&1 || true
  [ "$ok" -eq 0 ] || die "cargo build of baseline $sha failed:
$(tail -n 30 "$LOGS/baseline-build.log")"
  mkdir -p "$dir"
  cp "$ROOT/target/baseline/target/${triple}release/metrics-adapter" "$bin"
  echo "$bin"
}
BASELINE_VERSION=
if [ -n "$BASELINE$BASELINE_BIN" ]; then
  [ -z "$BASELINE" ] || [ -z "$BASELINE_BIN" ] || die "set BASELINE or BASELINE_BIN, not both"
  if [ -n "$BASELINE" ]; then
    BASELINE_BIN=$(build_baseline "$BASELINE")
    BASELINE_VERSION="commit $(git -C "$ROOT" rev-parse --short "$BASELINE^{commit}") built by the script${BASELINE_TARGET:+ for $BASELINE_TARGET}"
  else
    BASELINE_VERSION="$BASELINE_BIN"
  fi
  [ -x "$BASELINE_BIN" ] || die "baseline binary $BASELINE_BIN not found"
  cp "$BASELINE_BIN" "$WORK/metrics-adapter-baseline"
  BASELINE_BIN="$WORK/metrics-adapter-baseline"
  BASELINE_VERSION="$BASELINE_VERSION; $(stat -c %s "$BASELINE_BIN") bytes, sha256 $(sha256sum "$BASELINE_BIN" | cut -c1-12)"
  log "baseline: $BASELINE_VERSION"
fi

RESULTS="$(dirname "$OUT")"; mkdir -p "$RESULTS"
RUNS_TSV="$WORK/runs.tsv"; PROCS_TSV="$WORK/procs.tsv"
printf 'app\ttarget\trun\trps\tp50_ms\tp99_ms\trequests\tcpu_s_per_1k\trss_max_kb\tanon_max_kb\tnon2xx\tsocket_errors\tsource_reads\n' >"$RUNS_TSV"
printf 'app\ttarget\trss_idle_kb\tanon_idle_kb\twarmup_scrapes\trss_after_warmup_kb\ttotal_scrapes\trss_final_kb\tpage_bytes\tseries\n' >"$PROCS_TSV"

# ------------------------------------------------------------------ app configs
write_nginx_conf() {    # DIR PORT [EXTRA_SERVER_LINES]
  mkdir -p "$1/tmp"
  cat >"$1/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $1/nginx.pid;
error_log $LOGS/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_timeout 65; keepalive_requests 1000000;
  client_body_temp_path $1/tmp/body; proxy_temp_path $1/tmp/proxy;
  fastcgi_temp_path $1/tmp/fastcgi; uwsgi_temp_path $1/tmp/uwsgi; scgi_temp_path $1/tmp/scgi;
  server {
    listen $H:$2;
    location = /stub_status { stub_status; }
    ${3:-}
  }
}
EOF
}

write_redis_conf() {    # DIR PORT
  cat >"$1/redis.conf" <<EOF
bind $H
port $2
protected-mode yes
daemonize no
save ""
appendonly no
dir $1
logfile ""
EOF
}

write_haproxy_cfg() {   # DIR STATS_PORT FE_PORT
  cat >"$1/haproxy.cfg" <<EOF
global
  pidfile $1/haproxy.pid
  nbthread 1
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 10s
frontend stats
  bind $H:$2
  stats enable
  stats uri /stats
frontend fe_web
  bind $H:$3
  default_backend be_web
backend be_web
  balance roundrobin
  server web1 $H:1 disabled
  server web2 $H:1 disabled
EOF
}

write_apache_conf() {   # DIR PORT
  mkdir -p "$1/run" "$1/www"
  cat >"$1/apache2.conf" <<EOF
ServerRoot "/etc/apache2"
DefaultRuntimeDir $1/run
PidFile $1/run/apache2.pid
Mutex file:$1/run default
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_host_module /usr/lib/apache2/modules/mod_authz_host.so
LoadModule status_module /usr/lib/apache2/modules/mod_status.so
User www-data
Group www-data
Listen $H:$2
ServerName localhost
DocumentRoot $1/www
ErrorLog $LOGS/apache-error.log
StartServers 1
ServerLimit 2
ThreadsPerChild 25
MaxRequestWorkers 50
MinSpareThreads 5
MaxSpareThreads 50
KeepAlive On
MaxKeepAliveRequests 0
ExtendedStatus On
<Directory />
  AllowOverride None
  Require all denied
</Directory>
<Location /server-status>
  SetHandler server-status
  Require ip 127.0.0.1
</Location>
EOF
}

write_phpfpm_conf() {    # DIR PORT
  cat >"$1/php-fpm.conf" <<EOF
[global]
pid = $1/php-fpm.pid
error_log = $LOGS/phpfpm-error.log
daemonize = no
[www]
listen = $H:$2
listen.allowed_clients = $H
pm = static
pm.max_children = 1
pm.status_path = /status
EOF
}

# gen_big_csv FILE SERVERS : HAProxy's CSV with SERVERS server rows, made from the recorded
# sample's rows (as benches/pipeline.rs makes it), served as a static file.
gen_big_csv() {
  python3 - "$ROOT/tests/fixtures/samples/haproxy/stats.csv" "$1" "$2" <<'EOF'
import sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(src).read().splitlines()
header, rows = lines[0], [r for r in lines[1:] if r]
servers = [r for r in rows if ",FRONTEND," not in r and ",BACKEND," not in r]
out = [header] + rows
for i in range(n):
    px, _, rest = servers[i % len(servers)].split(",", 2)
    out.append(f"{px},srv{i},{rest}")
open(dst, "w").write("\n".join(out) + "\n")
EOF
}

# ------------------------------------------------------------------ measurement
# parse_wrk FILE : "rps p50_ms p99_ms requests non2xx socket_errors"
parse_wrk() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
      if (v ~ /m$/)  return substr(v, 1, length(v) - 1) * 60000
      if (v ~ /h$/)  return substr(v, 1, length(v) - 1) * 3600000
      return v + 0
    }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    / requests in / { req = $1 }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { non = $NF }
    /Socket errors:/ { gsub(",", ""); serr = $4 + $6 + $8 + $10 }
    END { printf "%s %.4f %.4f %s %d %d\n", rps, p50, p99, req, non, serr }
  ' "$1"
}

# run_wrk APP TARGET RUN URL PID(or -) ADAPTER_METRICS_URL(or -) [EXTRA WRK ARGS...]
run_wrk() {
  local app=$1 target=$2 run=$3 url=$4 pid=$5 aurl=$6; shift 6
  local out="$LOGS/wrk-$app-$target-$run.txt" samples="$WORK/rss-$app-$target-$run"
  local c0=0 c1=0 r0=0 r1=0 f0=0 f1=0 sampler="" rssmax=0 anonmax=0 cpu=NA reads=NA
  if [ "$aurl" != - ]; then
    r0=$(metric_value "$aurl" "metrics_adapter_source_reads_total{source=\"$app\"}")
    f0=$(metric_sum "$aurl" metrics_adapter_source_read_failures_total "$app")
  fi
  if [ "$pid" != - ]; then
    c0=$(cpu_ticks "$pid")
    ( while kill -0 "$pid" 2>/dev/null; do rss_anon_kb "$pid"; sleep 0.5; done ) >"$samples" 2>/dev/null &
    sampler=$!; HELPERS+=("$sampler")
  fi
  wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$@" "$url" >"$out" 2>&1 \
    || die "wrk failed against $target ($url); output: $(cat "$out")"
  if [ "$pid" != - ]; then
    c1=$(cpu_ticks "$pid")
    kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
    HELPERS=()
    read -r rssmax anonmax < <(awk '$1 > r {r = $1} $2 > a {a = $2} END {print r + 0, a + 0}' "$samples")
  fi
  local rps p50 p99 req non serr
  read -r rps p50 p99 req non serr < <(parse_wrk "$out")
  [ -n "$req" ] && [ "$req" -gt 0 ] 2>/dev/null || die "wrk against $target ($url) completed no request:
$(cat "$out")"
  [ "$non" -eq 0 ] || die "wrk saw $non non-2xx/3xx responses from $app $target ($url) in run $run:
$(cat "$out")"
  if [ "$aurl" != - ]; then
    r1=$(metric_value "$aurl" "metrics_adapter_source_reads_total{source=\"$app\"}")
    f1=$(metric_sum "$aurl" metrics_adapter_source_read_failures_total "$app")
    [ -n "$r0" ] && [ -n "$r1" ] && [ -n "$f0" ] && [ -n "$f1" ] \
      || die "the adapter's page lacks metrics_adapter_source_reads_total/read_failures_total{source=\"$app\"}"
    # the two curl scrapes around the run read the source too: subtract the second one
    reads=$(( ${r1%.*} - ${r0%.*} - 1 ))
    [ "$(( ${f1%.*} - ${f0%.*} ))" -eq 0 ] || die "the adapter's $app source failed $(( ${f1%.*} - ${f0%.*} )) reads during run $run (answers were 200 with the source down); see $LOGS/adapter-$app.log"
  fi
  if [ "$pid" != - ]; then
    cpu=$(awk -v d=$((c1 - c0)) -v t="$CLK_TCK" -v n="$req" 'BEGIN { printf "%.4f", d / t / n * 1000 }')
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$app" "$target" "$run" "$rps" "$p50" "$p99" \
    "$req" "$cpu" "$rssmax" "$anonmax" "$non" "$serr" "$reads" >>"$RUNS_TSV"
  log "$app $target run $run: $rps req/s, p50 ${p50} ms, p99 ${p99} ms, $req requests, cpu/1k ${cpu} s, rss max ${rssmax} kB (anon ${anonmax}), socket errors $serr${aurl:+, source reads $reads}"
  TOTAL_REQ=$req
}

# run_redis_floor APP RUN PORT : redis-benchmark running INFO all, about DURATION seconds
REDIS_N=
run_redis_floor() {
  local app=$1 run=$2 port=$3 out="$LOGS/redis-benchmark-$2.txt"
  if [ -z "$REDIS_N" ]; then   # calibrate the request count to last about DURATION seconds
    local rate
    rate=$(redis-benchmark -h $H -p "$port" -c "$CONNS" -n 2000 -q INFO all 2>/dev/null | tr '\r' '\n' \
      | awk '/requests per second/ { for (i = 1; i <= NF; i++) if ($i == "requests") print $(i - 1) }' | tail -1)
    REDIS_N=$(awk -v r="${rate:-1000}" -v d="$DURATION" 'BEGIN { printf "%d", r * d }')
    log "redis floor: calibrated -n $REDIS_N (~${rate} req/s x ${DURATION} s)"
  fi
  redis-benchmark -h $H -p "$port" -c "$CONNS" -n "$REDIS_N" INFO all >"$out" 2>&1 \
    || die "redis-benchmark failed: $(tail -5 "$out")"
  local rps p50 p99
  rps=$(tr '\r' '\n' <"$out" | awk '/throughput summary:/ {print $3}')
  read -r p50 p99 < <(tr '\r' '\n' <"$out" | awk '/avg +min +p50/ {getline; print $3, $5}')
  [ -n "$rps" ] && [ -n "$p99" ] || die "could not parse redis-benchmark output: $(tail -8 "$out")"
  grep -q 'ERR\|Error' "$out" && die "redis-benchmark reported errors: $(grep -m3 'ERR\|Error' "$out")"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$app" floor "$run" "$rps" "$p50" "$p99" \
    "$REDIS_N" NA 0 0 0 0 NA >>"$RUNS_TSV"
  log "$app floor run $run (redis-benchmark INFO all): $rps req/s, p50 $p50 ms, p99 $p99 ms"
}

# run_tcp_floor APP RUN PORT REQUEST END : bench/tcp_floor.py, one request at a time
run_tcp_floor() {
  local app=$1 run=$2 port=$3 out="$LOGS/tcp-floor-$1-$2.txt"
  python3 "$HERE/tcp_floor.py" $H "$port" "$DURATION" "$4" "$5" >"$out" 2>&1 \
    || die "tcp_floor.py against $app failed: $(tail -5 "$out")"
  local rps p50 p99 req
  read -r rps p50 p99 req _ < "$out"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$app" floor "$run" "$rps" "$p50" "$p99" \
    "$req" NA 0 0 0 0 NA >>"$RUNS_TSV"
  log "$app floor run $run (tcp_floor.py): $rps req/s, p50 $p50 ms, p99 $p99 ms"
}

# warm WHO URL : WARMUP scrapes with wrk -c CONNS (bench/stop_after.lua), prints the count done
warm() {
  local out="$LOGS/warmup-$1.txt" d
  d=$(( WARMUP / 500 + 2 ))   # wrk waits out -d even after the script stopped it
  WRK_LIMIT=$WARMUP wrk -t1 -c"$CONNS" -d"${d}s" -s "$HERE/stop_after.lua" "$2" >"$out" 2>&1 \
    || die "wrk warm-up of $1 failed: $(cat "$out")"
  local rps p50 p99 req non serr
  read -r rps p50 p99 req non serr < <(parse_wrk "$out")
  [ "$non" -eq 0 ] || die "warm-up of $1 saw $non non-2xx/3xx responses: $(cat "$out")"
  echo "$req"
}

page_stats() {      # page_stats URL -> "bytes series"
  curl -fsS --max-time 5 "$1" | awk '{ b += length($0) + 1 } !/^#/ && NF { s++ } END { print b + 0, s + 0 }'
}

# baseline_config IN OUT : IN for an older build: a key it does not know (e.g. max_series,
# newer than it) is left out, as its `check` names it, and said in the log.
baseline_config() {
  local err key i
  cp "$1" "$2"
  for i in 1 2 3 4; do
    err=$("$BASELINE_BIN" --config "$2" check 2>&1 >/dev/null) && return 0
    key=$(sed -n 's/.*unknown field `\([a-z_]*\)`.*/\1/p' <<<"$err" | head -1)
    [ -n "$key" ] || die "the baseline build rejects the config $2: $err"
    log "baseline: leaving out '$key' (unknown to that build)"
    sed -i "/^$key *=/d" "$2"
  done
  die "the baseline build rejects the config $2: $err"
}

# ------------------------------------------------------------------ one app
bench_app() {
  local app=$1
  local d="$WORK/$app" p_app p_fe p_ad p_ex p_ai p_web p
  mkdir -p "$d"
  read -r p_app p_fe p_ad p_ex p_ai p_web p_bl < <(free_ports 7)
  local app_pid stats_url src_toml exp_up="" exp_pid=- ad_pid ai_pid=- web_pid=- bl_pid=- bl_url=-
  case $app in
    nginx)
      write_nginx_conf "$d" "$p_app"
      spawn nginx /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$LOGS/nginx-error.log"; app_pid=$SPAWNED
      stats_url="http://$H:$p_app/stub_status"
      wait_http nginx "$app_pid" "$stats_url" 'Active connections'
      src_toml="type = \"http\"
url = \"$stats_url\"
parser = \"nginx_stub_status\""
      spawn exporter-nginx prometheus-nginx-exporter -nginx.scrape-uri "$stats_url" -web.listen-address "$H:$p_ex"
      exp_up='^nginx_up 1(\.0)?$' ;;
    redis)
      write_redis_conf "$d" "$p_app"
      spawn redis /usr/bin/redis-server "$d/redis.conf"; app_pid=$SPAWNED
      wait_redis redis "$app_pid" "$p_app"
      stats_url=-
      src_toml="type = \"tcp\"
address = \"$H:$p_app\"
send = \"INFO all\\r\\n\"
framing = \"resp\"
parser = \"redis_info\""
      spawn exporter-redis prometheus-redis-exporter -redis.addr "redis://$H:$p_app" -web.listen-address "$H:$p_ex"
      exp_up='^redis_up 1(\.0)?$' ;;
    haproxy)
      write_haproxy_cfg "$d" "$p_app" "$p_fe"
      spawn haproxy /usr/sbin/haproxy -db -f "$d/haproxy.cfg"; app_pid=$SPAWNED
      stats_url="http://$H:$p_app/stats;csv"
      wait_http haproxy "$app_pid" "$stats_url" '^# pxname'
      src_toml="type = \"http\"
url = \"$stats_url\"
parser = \"haproxy_csv\""
      spawn exporter-haproxy prometheus-haproxy-exporter "--haproxy.scrape-uri=$stats_url" "--web.listen-address=$H:$p_ex"
      exp_up='^haproxy_up 1(\.0)?$' ;;
    apache)
      write_apache_conf "$d" "$p_app"
      spawn apache /usr/sbin/apache2 -DFOREGROUND -f "$d/apache2.conf"; app_pid=$SPAWNED
      stats_url="http://$H:$p_app/server-status?auto"
      wait_http apache "$app_pid" "$stats_url" '^Scoreboard:'
      src_toml="type = \"http\"
url = \"$stats_url\"
parser = \"apache_status\""
      spawn exporter-apache prometheus-apache-exporter "--scrape_uri=$stats_url" "--telemetry.address=$H:$p_ex"
      exp_up='^apache_up 1(\.0)?$' ;;
    memcached)
      spawn memcached /usr/bin/memcached -l $H -p "$p_app" -U 0 -m 16 -c 64 -t 1 -u nobody; app_pid=$SPAWNED
      local i
      for i in $(seq 150); do
        alive_or_die "$app_pid" memcached
        python3 "$HERE/tcp_floor.py" $H "$p_app" 0.01 'stats\r\n' 'END\r\n' >/dev/null 2>&1 && break
        sleep 0.1
      done
      stats_url=-
      src_toml="type = \"tcp\"
address = \"$H:$p_app\"
send = \"stats\\r\\n\"
until = \"END\\r\\n\"
parser = \"memcached_stats\"" ;;
    phpfpm)
      write_phpfpm_conf "$d" "$p_app"
      spawn phpfpm "$PHP_FPM" -F -R -y "$d/php-fpm.conf"; app_pid=$SPAWNED
      write_nginx_conf "$d" "$p_web" "location = /status { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_NAME /status; fastcgi_param SCRIPT_FILENAME /status; fastcgi_pass $H:$p_app; }"
      spawn nginx /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$LOGS/nginx-error.log"; web_pid=$SPAWNED
      stats_url="http://$H:$p_web/status?json&full"
      wait_http phpfpm "$app_pid" "$stats_url" '"pool"'
      src_toml="type = \"http\"
url = \"$stats_url\"
parser = \"php_fpm\"" ;;
    bigpage)
      mkdir -p "$d/www"
      gen_big_csv "$d/www/stats.csv" 2000
      write_nginx_conf "$d" "$p_app" "location = /stats.csv { root $d/www; default_type text/plain; }"
      spawn nginx /usr/sbin/nginx -p "$d" -c "$d/nginx.conf" -e "$LOGS/nginx-error.log"; app_pid=$SPAWNED
      stats_url="http://$H:$p_app/stats.csv"
      wait_http nginx "$app_pid" "$stats_url" '^# pxname'
      # 80k series: above the default max_series
      src_toml="type = \"http\"
url = \"$stats_url\"
parser = \"haproxy_csv\"
max_series = 200000
max_bytes = 4194304"
      spawn exporter-haproxy prometheus-haproxy-exporter "--haproxy.scrape-uri=$stats_url" "--web.listen-address=$H:$p_ex"
      exp_up='^haproxy_up 1(\.0)?$' ;;
  esac
  [ -n "$exp_up" ] && exp_pid=$SPAWNED
  printf '[sources.%s]\n%s\n' "$app" "$src_toml" >"$d/adapter.toml"
  spawn "adapter-$app" "$ADAPTER_BIN" --config "$d/adapter.toml" --listen "$H:$p_ad" --log-level warn
  ad_pid=$SPAWNED
  local a_url="http://$H:$p_ad/metrics" e_url="http://$H:$p_ex/metrics" ai_url=-
  local up_re="^metrics_adapter_source_up\\{source=\"$app\"\\} 1(\\.0)?\$"
  wait_http "adapter-$app" "$ad_pid" "$a_url" "$up_re"
  if [ -n "$BASELINE_BIN" ]; then
    baseline_config "$d/adapter.toml" "$d/adapter-baseline.toml"
    spawn "baseline-$app" "$BASELINE_BIN" --config "$d/adapter-baseline.toml" --listen "$H:$p_bl" --log-level warn
    bl_pid=$SPAWNED; bl_url="http://$H:$p_bl/metrics"
    wait_http "baseline-$app" "$bl_pid" "$bl_url" "$up_re"
  fi
  if [ "$INTERVAL" -gt 0 ]; then
    printf '[sources.%s]\n%s\ninterval = "%ss"\n' "$app" "$src_toml" "$INTERVAL" >"$d/adapter-interval.toml"
    spawn "adapter-interval-$app" "$ADAPTER_BIN" --config "$d/adapter-interval.toml" --listen "$H:$p_ai" --log-level warn
    ai_pid=$SPAWNED; ai_url="http://$H:$p_ai/metrics"
    wait_http "adapter-interval-$app" "$ai_pid" "$ai_url" "$up_re"
  fi
  [ "$exp_pid" = - ] || wait_http "exporter-$app" "$exp_pid" "$e_url" "$exp_up"
  # a Go exporter's own process: make sure $! is the exporter, not a wrapper
  for p in "$ad_pid:metrics-adapter" "$exp_pid:prometheus-" "$ai_pid:metrics-adapter" "$bl_pid:metrics-adapter"; do
    [ "${p%%:*}" = - ] && continue
    grep -q "^${p#*:}" "/proc/${p%%:*}/comm" 2>/dev/null \
      || die "pid ${p%%:*} is '$(cat "/proc/${p%%:*}/comm" 2>/dev/null)', not ${p#*:}* (setsid forked?)"
  done

  local a_idle e_idle=0 a_anon e_anon=0 a_pg e_pg="0 0" b_idle=0 b_anon=0 b_pg="0 0"
  read -r a_idle a_anon < <(rss_anon_kb "$ad_pid")
  a_pg=$(page_stats "$a_url")
  if [ "$bl_pid" != - ]; then read -r b_idle b_anon < <(rss_anon_kb "$bl_pid"); b_pg=$(page_stats "$bl_url"); fi
  if [ "$exp_pid" != - ]; then read -r e_idle e_anon < <(rss_anon_kb "$exp_pid"); e_pg=$(page_stats "$e_url"); fi
  log "$app: idle RSS adapter ${a_idle} kB, exporter ${e_idle} kB; page (bytes series) adapter $a_pg, exporter $e_pg"

  local a_warm e_warm=0 a_rss1k e_rss1k=0 b_warm=0 b_rss1k=0
  a_warm=$(warm "adapter-$app" "$a_url"); a_rss1k=$(rss_kb "$ad_pid")
  if [ "$bl_pid" != - ]; then b_warm=$(warm "baseline-$app" "$bl_url"); b_rss1k=$(rss_kb "$bl_pid"); fi
  if [ "$exp_pid" != - ]; then e_warm=$(warm "exporter-$app" "$e_url"); e_rss1k=$(rss_kb "$exp_pid"); fi
  [ "$ai_pid" = - ] || warm "adapter-interval-$app" "$ai_url" >/dev/null
  log "$app: after warm-up ($a_warm / $e_warm scrapes) RSS adapter ${a_rss1k} kB, exporter ${e_rss1k} kB"
  # scrapes served so far: readiness + page_stats + warm-up (approximate for the readiness loop)
  local a_total=$((a_warm + 2)) e_total=$((e_warm + 2)) b_total=$((b_warm + 2)) r
  for r in $(seq "$RUNS"); do
    run_wrk "$app" adapter "$r" "$a_url" "$ad_pid" "$a_url"; a_total=$((a_total + TOTAL_REQ + 2))
    if [ "$bl_pid" != - ]; then
      run_wrk "$app" baseline "$r" "$bl_url" "$bl_pid" "$bl_url"; b_total=$((b_total + TOTAL_REQ + 2))
    fi
    if [ "$ai_pid" != - ]; then run_wrk "$app" adapter-interval "$r" "$ai_url" "$ai_pid" -; fi
    if [ "$exp_pid" != - ]; then
      run_wrk "$app" exporter "$r" "$e_url" "$exp_pid" -; e_total=$((e_total + TOTAL_REQ))
    fi
    if [ "$app" = redis ]; then
      run_redis_floor "$app" "$r" "$p_app"
    elif [ "$app" = memcached ]; then
      run_tcp_floor "$app" "$r" "$p_app" 'stats\r\n' 'END\r\n'
    else
      run_wrk "$app" floor "$r" "$stats_url" - -
    fi
  done
  # one more floor run with a new connection per request: a source read without connection reuse
  if [ "$stats_url" != - ] && [ "${FLOOR_CLOSE:-1}" = 1 ]; then
    run_wrk "$app" floor-close 1 "$stats_url" - - -H "Connection: close"
  fi
  # the sources must still be up after the load
  local page
  page=$(curl -fsS --max-time 5 "$a_url") || die "after the runs the adapter-$app does not answer"
  grep -qE "^metrics_adapter_source_up\\{source=\"$app\"\\} 1(\\.0)?\$" <<<"$page" \
    || die "after the runs the adapter reports source $app down"
  if [ "$exp_pid" != - ]; then
    page=$(curl -fsS --max-time 5 "$e_url") || die "after the runs the $app exporter does not answer"
    grep -qE "$exp_up" <<<"$page" || die "after the runs the $app exporter does not report /$exp_up/"
  fi
  if [ "$bl_pid" != - ]; then
    page=$(curl -fsS --max-time 5 "$bl_url") || die "after the runs the baseline-$app does not answer"
    grep -qE "^metrics_adapter_source_up\\{source=\"$app\"\\} 1(\\.0)?\$" <<<"$page" \
      || die "after the runs the baseline adapter reports source $app down"
  fi
  local a_final e_final=0 b_final=0
  a_final=$(rss_kb "$ad_pid"); [ "$exp_pid" = - ] || e_final=$(rss_kb "$exp_pid")
  [ "$bl_pid" = - ] || b_final=$(rss_kb "$bl_pid")
  printf '%s\tadapter\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$app" "$a_idle" "$a_anon" "$a_warm" "$a_rss1k" "$a_total" "$a_final" $a_pg >>"$PROCS_TSV"
  [ "$bl_pid" = - ] || printf '%s\tbaseline\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$app" "$b_idle" "$b_anon" "$b_warm" "$b_rss1k" "$b_total" "$b_final" $b_pg >>"$PROCS_TSV"
  [ "$exp_pid" = - ] || printf '%s\texporter\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$app" "$e_idle" "$e_anon" "$e_warm" "$e_rss1k" "$e_total" "$e_final" $e_pg >>"$PROCS_TSV"
  log "$app: final RSS adapter ${a_final} kB after ~$a_total scrapes, exporter ${e_final} kB after ~$e_total"
  local p
  for p in "$ad_pid" "$bl_pid" "$ai_pid" "$exp_pid" "$web_pid" "$app_pid"; do [ "$p" = - ] || stop_group "$p"; done
  GROUPS_STARTED=()   # all stopped: never signal these (possibly reused) PIDs again
}

for a in $APPS; do bench_app "$a"; done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
T1=$(date +%s)
log "load average after: $LOAD_AFTER; measured part took $((T1 - T_BUILT)) s (build $((T_BUILT - T0)) s)"

cp "$RUNS_TSV" "${OUT%.md}.runs.tsv"
cp "$PROCS_TSV" "${OUT%.md}.procs.tsv"
export DURATION RUNS CONNS WARMUP LOAD_BEFORE LOAD_AFTER ADAPTER_VERSION BASELINE_VERSION
export ELAPSED=$((T1 - T_BUILT)) BUILD_SECONDS=$((T_BUILT - T0)) GENERATED="$(date -u '+%Y-%m-%d %H:%M UTC')"
# the report can be made again from the raw files:
#   (set -a; . X.env; python3 bench/summarize.py X.runs.tsv X.procs.tsv)
for v in DURATION RUNS CONNS WARMUP LOAD_BEFORE LOAD_AFTER ADAPTER_VERSION BASELINE_VERSION ELAPSED BUILD_SECONDS GENERATED; do
  printf '%s=%q\n' "$v" "${!v}"
done >"${OUT%.md}.env"
python3 "$HERE/summarize.py" "$RUNS_TSV" "$PROCS_TSV" >"$WORK/report.md" || die "summarize.py failed"
cp "$WORK/report.md" "$OUT"
cat "$WORK/report.md"
log "report written to $OUT"
