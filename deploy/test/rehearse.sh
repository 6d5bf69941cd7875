#!/usr/bin/env bash
# rehearse.sh - the Kubernetes examples' pods, rehearsed locally with a real Prometheus.
#
#   ADAPTER_BIN=target/debug/metrics-adapter bash deploy/test/rehearse.sh
#
# For each example in deploy/kubernetes/examples/ it runs, as plain child processes on
# 127.0.0.1 in a temporary directory, what the pod runs:
#   meminfo-file, native-sidecar  the app container's own shell loop (from deployment.yaml),
#                                 appending under DIR/data/ instead of /data/; for meminfo-file
#                                 also /usr/sbin/nginx on its nginx.conf (serving that file),
#                                 with only its port and its paths rewritten
#   nginx                         /usr/sbin/nginx on the example's nginx.conf, with only its
#                                 ports and its /tmp paths rewritten
#   redis                         /usr/bin/redis-server
# and beside each, the adapter on the example's very adapter.toml. Only where it reads and
# listens differs from the pod, set the adapter's documented ways: METRICS_ADAPTER__SOURCES__*
# environment variables for the path / URL / address, --listen for the port.
#
# Then a real Prometheus scrapes them with the job of deploy/prometheus/scrape-config.yaml,
# whose relabeling is kept as it is; only Kubernetes discovery is replaced by static targets
# carrying the labels it would find for these pods (manifests.py rehearsal-prometheus-yml),
# plus two pods the job must skip (unannotated, finished). It waits (at most
# REHEARSAL_DEADLINE seconds, default 60) until Prometheus' API shows every pod up, every
# source up and the examples' metrics, checks the probes' paths answer 200, and stops each
# adapter with SIGTERM as the kubelet does, expecting a clean exit.
#
# Needs: python3 with PyYAML, curl, /usr/bin/prometheus, /usr/sbin/nginx,
# /usr/bin/redis-server and redis-cli (tests/setup.sh installs them). Exits non-zero on any
# failure, printing the tail of every process's log. Takes about 10 s.
set -euo pipefail

if [ -n "${ADAPTER_BIN:-}" ]; then ADAPTER_BIN=$(realpath -m "$ADAPTER_BIN"); fi
cd "$(dirname "$0")/../.."
ADAPTER_BIN=${ADAPTER_BIN:-$PWD/target/debug/metrics-adapter}
DEADLINE=${REHEARSAL_DEADLINE:-60}
EXAMPLES=deploy/kubernetes/examples
MANIFESTS="python3 deploy/test/manifests.py"
started=$(date +%s)

say() { printf '[rehearse] %s\n' "$*"; }

T=$(mktemp -d "${TMPDIR:-/tmp}/metrics-adapter-rehearsal.XXXXXX")
mkdir -p "$T/logs"
declare -A PIDS=()      # name -> pid of a child started in its own process group (setsid)
declare -A PORTS=()     # example -> the adapter's port

stop_all() {
  local name pid
  for name in "${!PIDS[@]}"; do kill -TERM -- "-${PIDS[$name]}" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  PIDS=()
}
show_logs() {
  local f
  for f in "$T"/logs/*.log; do
    printf '\n----- %s (last 25 lines) -----\n' "$(basename "$f")"
    tail -n 25 "$f" || true
  done
}
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    say "FAILED (exit $rc); logs of every process:"
    show_logs
  fi
  stop_all
  rm -rf "$T"
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM
die() { say "FAIL: $*"; exit 1; }

# start NAME CMD...: run CMD in its own process group, output to logs/NAME.log.
start() {
  local name=$1; shift
  setsid "$@" >"$T/logs/$name.log" 2>&1 &
  PIDS[$name]=$!
}
# Children that would outlive a killed script are bounded by this.
BOUNDED=(timeout --kill-after=5 300)
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_http URL NAME: until URL answers 200, or NAME's process is gone, or 10 s.
wait_http() {
  for _ in $(seq 100); do
    curl -fs -o /dev/null "$1" && return 0
    kill -0 "${PIDS[$2]}" 2>/dev/null || die "$2 exited before $1 answered"
    sleep 0.1
  done
  die "$1 did not answer within 10 s"
}

[ -x "$ADAPTER_BIN" ] || die "ADAPTER_BIN=$ADAPTER_BIN is not an executable"
for tool in python3 curl /usr/bin/prometheus /usr/sbin/nginx /usr/bin/redis-server /usr/bin/redis-cli \
  timeout setsid; do
  command -v "$tool" >/dev/null || die "$tool not found (bash tests/setup.sh installs it)"
done
export LC_ALL=C TZ=UTC   # as in a container: the writer's `date` prints C-locale UTC

rehearsed=(meminfo-file native-sidecar nginx redis)

# ---- the apps ----------------------------------------------------------------------------
start_app() { # EXAMPLE: start what the example's app container runs; set ENV, the adapter's overrides
  local ex=$1 dir="$T/$1"
  mkdir -p "$dir"
  case $ex in
    native-sidecar)
      local cmd
      cmd=$($MANIFESTS app-command "$EXAMPLES/$ex" app)
      mkdir -p "$dir/data"
      start "$ex-app" "${BOUNDED[@]}" sh -c "${cmd//\/data\//$dir/data/}"
      ENV=("METRICS_ADAPTER__SOURCES__MEMINFO__PATH=$dir/data/meminfo.log")
      ;;
    meminfo-file)
      local cmd web_port
      cmd=$($MANIFESTS app-command "$EXAMPLES/$ex" app)
      mkdir -p "$dir/data" "$dir/tmp"
      start "$ex-app" "${BOUNDED[@]}" sh -c "${cmd//\/data\//$dir/data/}"
      web_port=$(free_port)
      # /tmp/ first: the rewritten root is itself under /tmp.
      sed -e "s#/tmp/#$dir/tmp/#g" \
          -e "s#^\( *\)listen 8080;#\1listen 127.0.0.1:$web_port;#" \
          -e "s#^\( *\)root /data;#\1root $dir/data;#" \
          "$EXAMPLES/$ex/nginx.conf" >"$dir/nginx.conf"
      if ! grep -q "listen 127.0.0.1:$web_port;" "$dir/nginx.conf" ||
        ! grep -q "root $dir/data;" "$dir/nginx.conf"; then
        die "meminfo-file's nginx.conf no longer has 'listen 8080;' and 'root /data;': update rehearse.sh"
      fi
      # Run as root, nginx's worker is `nobody`, as in the pod it is not the writer: it
      # must be able to reach the file.
      chmod o+x "$T" "$dir" && chmod o+rx "$dir/data"
      start "$ex-web" "${BOUNDED[@]}" /usr/sbin/nginx -c "$dir/nginx.conf" -e stderr -g 'daemon off;'
      wait_http "http://127.0.0.1:$web_port/index.html" "$ex-web"
      ENV=("METRICS_ADAPTER__SOURCES__MEMINFO__PATH=$dir/data/index.html"
        "METRICS_ADAPTER__SOURCES__MEMINFO_HTTP__URL=http://127.0.0.1:$web_port/index.html")
      ;;
    nginx)
      local app_port status_port
      app_port=$(free_port); status_port=$(free_port)
      mkdir -p "$dir/tmp"
      sed -e "s#^\( *\)listen 8081;#\1listen 127.0.0.1:$app_port;#" \
          -e "s#^\( *\)listen 127.0.0.1:8080;#\1listen 127.0.0.1:$status_port;#" \
          -e "s#/tmp/#$dir/tmp/#g" \
          "$EXAMPLES/nginx/nginx.conf" >"$dir/nginx.conf"
      if ! grep -q "listen 127.0.0.1:$app_port;" "$dir/nginx.conf" ||
        ! grep -q "listen 127.0.0.1:$status_port;" "$dir/nginx.conf"; then
        die "nginx.conf no longer has 'listen 8081;' and 'listen 127.0.0.1:8080;': update rehearse.sh"
      fi
      start "$ex-app" "${BOUNDED[@]}" /usr/sbin/nginx -c "$dir/nginx.conf" -e stderr -g 'daemon off;'
      wait_http "http://127.0.0.1:$app_port/" "$ex-app"
      ENV=("METRICS_ADAPTER__SOURCES__NGINX__URL=http://127.0.0.1:$status_port/stub_status")
      ;;
    redis)
      local port
      port=$(free_port)
      mkdir -p "$dir/data"
      start "$ex-app" "${BOUNDED[@]}" /usr/bin/redis-server --bind 127.0.0.1 --port "$port" \
        --dir "$dir/data" --save '' --appendonly no
      for _ in $(seq 100); do
        [ "$(/usr/bin/redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
        sleep 0.1
      done
      ENV=("METRICS_ADAPTER__SOURCES__REDIS__ADDRESS=127.0.0.1:$port")
      ;;
    *) die "no rehearsal recipe for example $ex" ;;
  esac
}

# ---- the adapters ------------------------------------------------------------------------
for ex in "${rehearsed[@]}"; do
  ENV=()
  start_app "$ex"
  PORTS[$ex]=$(free_port)
  say "$ex: adapter on 127.0.0.1:${PORTS[$ex]}, config $EXAMPLES/$ex/adapter.toml, ${ENV[*]}"
  start "$ex-adapter" env "${ENV[@]}" "$ADAPTER_BIN" --config "$EXAMPLES/$ex/adapter.toml" \
    --listen "127.0.0.1:${PORTS[$ex]}"
done
for ex in "${rehearsed[@]}"; do
  read -r live ready < <($MANIFESTS probe-paths "$EXAMPLES/$ex")
  for path in "$live" "$ready"; do
    wait_http "http://127.0.0.1:${PORTS[$ex]}$path" "$ex-adapter"
  done
  say "$ex: probes $live and $ready answer 200"
done

# ---- Prometheus --------------------------------------------------------------------------
targets=()
for ex in "${rehearsed[@]}"; do targets+=("$EXAMPLES/$ex=${PORTS[$ex]}"); done
$MANIFESTS rehearsal-prometheus-yml deploy/prometheus/scrape-config.yaml "${targets[@]}" \
  >"$T/prometheus.yml"
/usr/bin/promtool check config "$T/prometheus.yml" >"$T/logs/promtool.log" 2>&1 ||
  die "promtool rejects the rehearsal's prometheus.yml: $(cat "$T/logs/promtool.log")"
prom_port=$(free_port)
start prometheus "${BOUNDED[@]}" /usr/bin/prometheus --config.file="$T/prometheus.yml" \
  --storage.tsdb.path="$T/prometheus-data" --web.listen-address="127.0.0.1:$prom_port"
PROM="http://127.0.0.1:$prom_port"
wait_http "$PROM/-/ready" prometheus
say "Prometheus on $PROM, scraping every 1 s with the kubernetes-pods job"

# ---- what Prometheus must see --------------------------------------------------------------
job='job="kubernetes-pods",namespace="rehearsal"'
checks=("count(up{$job}) == ${#rehearsed[@]}")   # the decoy pods were not scraped
for ex in "${rehearsed[@]}"; do
  pod="pod=\"$ex-rehearsal\""
  sources=$(python3 -c 'import sys, tomllib; print(len(tomllib.load(open(sys.argv[1], "rb"))["sources"]))' \
    "$EXAMPLES/$ex/adapter.toml")
  checks+=(
    "up{$job,$pod} == 1"
    "count(metrics_adapter_source_up{$job,$pod} == 1) == $sources"
  )
  case $ex in
    meminfo-file|native-sidecar)
      checks+=(
        "node_memory_MemTotal_bytes{$job,$pod} > 0"
        "time() - meminfo_block_timestamp_seconds{$job,$pod} < 30"
      ) ;;
    nginx)
      checks+=(
        "nginx_up{$job,$pod} == 1"
        "nginx_connections_active{$job,$pod} >= 1"
      ) ;;
    redis)
      checks+=(
        "redis_up{$job,$pod} == 1"
        "redis_connected_clients{$job,$pod} >= 1"
      ) ;;
  esac
done
say "waiting (at most $DEADLINE s) for ${#checks[@]} conditions in Prometheus"
python3 deploy/test/promwait.py "$PROM" "$DEADLINE" "${checks[@]}" ||
  die "Prometheus did not see everything it should"

# ---- shutdown, as the kubelet does it ------------------------------------------------------
for ex in "${rehearsed[@]}"; do
  pid=${PIDS[$ex-adapter]}
  kill -TERM "$pid"
  rc=0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && die "$ex: adapter still running 10 s after SIGTERM"
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || die "$ex: adapter exited $rc after SIGTERM, not 0"
  unset "PIDS[$ex-adapter]"
done
say "every adapter exited 0 on SIGTERM"

say "passed: ${rehearsed[*]} in $(( $(date +%s) - started )) s"
