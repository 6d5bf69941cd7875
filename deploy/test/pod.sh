#!/usr/bin/env bash
# pod.sh - the examples' pods for real: images built here, run by `podman kube play`,
# scraped by a real Prometheus.
#
#   bash deploy/test/pod.sh            (as root; BINARY=path skips the musl compile)
#
# validate.sh checks the manifests by reading them and rehearse.sh runs their processes on
# the host; neither catches a wrong path in the image, a read-only root the adapter writes
# to, a volume uid 65532 cannot read or a ConfigMap key that does not land where --config
# looks. This does, with no registry:
#  1. builds the images FROM scratch from what is on this machine: the adapter with
#     deploy/build-image.sh (Containerfile.offline, the static musl binary), busybox from
#     Debian's busybox-static, nginx and redis-server from Debian's packages with the shared
#     libraries they load (ldd), and checks the adapter image's embedded default config;
#  2. renders each example with manifests.py (as validate.sh does) and makes it fit for this
#     machine with `manifests.py podman-yaml`: images pointed at the local ones (pull policy
#     Never), every container port published on 127.0.0.1 only, on a free port;
#  3. `podman kube play`s meminfo-file, nginx, redis and nginx-access-log (requests made
#     to its nginx must come out of the access log as counts), and tries native-sidecar (podman
#     4.3 refuses it: see deploy/README.md, "Running the examples with podman");
#  4. checks each adapter's container: uid 65532 (the process's, from /proc), read-only root
#     filesystem (podman inspect and the process's mount table), /healthz and /readyz 200;
#  5. has Prometheus scrape the pods' published ports with the job of
#     deploy/prometheus/scrape-config.yaml (relabeling unchanged, discovery replaced by the
#     targets Kubernetes would give, as in rehearse.sh) and waits until its API shows every
#     pod up, the writer's dumps moving MemFree, nginx_connections_active >= 1, redis up;
#     MemFree as served must be one of the values in the writer's file; meminfo-file (the
#     seed's pod) is read both ways, from the volume and from its nginx over the pod's
#     loopback, each read a few KiB (nginx answers Range requests with 206);
#  6. stops the writer: the adapter stays live and ready, the file's mtime metric stops, and
#     both of the seed pod's sources go stale by themselves (its dumps are dated);
#     stops the nginx example's nginx: with deploy/prometheus/alerts.yaml loaded (its `for:`
#     durations at 0s), Prometheus fires MetricsAdapterSourceDown for that source only and
#     MetricsAdapterSourceStale for the seed pod's two stale sources;
#     a new adapter.toml renamed into the redis pod's ConfigMap volume is in force by itself
#     (a second source), a broken one is refused (MetricsAdapterConfigReloadFailed fires);
#  7. plays the meminfo-file pod with a broken adapter.toml: the adapter must not serve and
#     `podman logs` must name the bad key;
#  8. stops each adapter as the kubelet does (SIGTERM) and expects exit code 0.
# Every pod, container, volume and image lives in a private podman store under a temporary
# directory, removed on exit (trap), whatever happened. Every podman call and every wait is
# bounded. Takes about 1 minute after the binary is built (see deploy/README.md).
#
# podman on this machine (Debian 12's 4.3, in a container without systemd): the default
# OCI runtime crun fails on this kernel's cgroup setup, so runc with the cgroupfs manager; a
# containers.conf with `default_ulimits = []`, or container start fails on setrlimit. Both
# go into a containers.conf in the temporary directory (CONTAINERS_CONF), so nothing on the
# machine changes. A pod needs an infra container: podman builds its pause image locally
# from catatonit, so nothing is pulled.
set -euo pipefail

if [ -n "${BINARY:-}" ]; then BINARY=$(realpath -m "$BINARY"); export BINARY; fi
cd "$(dirname "$0")/../.."
EXAMPLES=deploy/kubernetes/examples
MANIFESTS="python3 deploy/test/manifests.py"
DEADLINE=${POD_DEADLINE:-90}          # seconds for Prometheus to see everything
LOCAL=localhost/metrics-adapter-pod-test
ADAPTER_IMAGE=ghcr.io/metrics-adapter/metrics-adapter:0.1.0
started=$(date +%s)

say() { printf '[pod] %s\n' "$*"; }
die() { say "FAIL: $*"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/metrics-adapter-pod.XXXXXX")
mkdir -p "$T/logs"
PROM_PID=""
declare -A POD=()        # example -> podman pod name
declare -A MPORT=()      # example -> host port of the adapter's `metrics` port
declare -A HPORT=()      # example -> host port of the app's `http` port, if it has one

# pm ARGS: podman, bounded, so that a hung runtime fails the test instead of stalling it.
pm() { timeout --kill-after=5 "${PODMAN_TIMEOUT:-60}" podman "$@"; }

show_state() {
  say "podman ps -a:"
  pm ps -a --format '  {{.Names}}  {{.Status}}  {{.Ports}}' || true
  local c
  for c in $(pm ps -a --format '{{.Names}}' 2>/dev/null); do
    printf '\n----- podman logs %s (last 20 lines) -----\n' "$c"
    pm logs --tail 20 "$c" 2>&1 || true
  done
  if [ -f "$T/logs/prometheus.log" ]; then
    printf '\n----- prometheus (last 15 lines) -----\n'
    tail -n 15 "$T/logs/prometheus.log"
  fi
}
# Everything is in the private store, so "all" means what this run made, nothing else.
remove_everything() {
  if [ -n "$PROM_PID" ]; then kill "$PROM_PID" 2>/dev/null || true; wait "$PROM_PID" 2>/dev/null || true; fi
  if [ -f "$T/containers.conf" ]; then
    pm pod rm --all --force --time 2 >/dev/null 2>&1 || true
    pm rm --all --force --time 2 >/dev/null 2>&1 || true
    pm volume rm --all --force >/dev/null 2>&1 || true
    pm rmi --all --force >/dev/null 2>&1 || true
  fi
  # The overlay driver may leave its own mounts under the store; unmount before removal.
  local m
  for m in $(grep -o " $T/[^ ]*" /proc/self/mountinfo 2>/dev/null | sort -r || true); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$T" || say "could not remove $T"
}
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then say "FAILED (exit $rc)"; show_state; fi
  remove_everything
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_http URL SECONDS: until URL answers 200.
wait_http() {
  local end=$((SECONDS + $2))
  until curl -fs -m 2 -o /dev/null "$1"; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.5
  done
}
# promq EXPR: the first result's value, empty when there is none.
promq() {
  curl -fs -m 5 "$PROM/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'
}
# wait_scraped_after EXPR UNIX_TIME SECONDS: until Prometheus holds a sample of EXPR scraped
# after UNIX_TIME (the sample's own timestamp), at most SECONDS.
wait_scraped_after() {
  local end=$((SECONDS + $3)) t
  until t=$(promq "timestamp($1)") && [ -n "$t" ] &&
    awk -v t="$t" -v after="$2" 'BEGIN { exit !(t > after) }'; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.5
  done
}

# ---- 0. tools ------------------------------------------------------------------------------
install_tools() {
  [ "$(id -u)" -eq 0 ] || die "needs root (podman's bridge network and runc run as root here)"
  # podman, runc, catatonit, busybox-static, musl-tools, nginx, redis, prometheus, jq, ...
  bash tests/setup.sh
  local tool
  for tool in podman runc catatonit busybox prometheus promtool nginx redis-server curl jq \
    python3 ldd readelf timeout; do
    command -v "$tool" >/dev/null || die "$tool not found after tests/setup.sh"
  done
  [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 ||
    die "/bin/busybox is not the static one (package busybox-static)"
}

write_podman_config() {
  cat >"$T/containers.conf" <<'EOF'
# Written by deploy/test/pod.sh for its own run (CONTAINERS_CONF points here).
[containers]
# The default ulimits make container start fail with a setrlimit error here.
default_ulimits = []

[engine]
# crun, the default, fails on this kernel's cgroup setup; runc with cgroupfs works (no systemd).
runtime = "runc"
cgroup_manager = "cgroupfs"
# No journald here; the test reads no events.
events_logger = "none"
EOF
  cat >"$T/storage.conf" <<EOF
# A private image and container store: the test removes everything in it, and never
# touches the machine's own images (or another run's).
[storage]
driver = "overlay"
graphroot = "$T/storage"
runroot = "$T/run"
EOF
  export CONTAINERS_CONF=$T/containers.conf CONTAINERS_STORAGE_CONF=$T/storage.conf
}

# ---- 1. images -------------------------------------------------------------------------------
# image_from_host IMAGE WORKDIR CMD BINARY...: a scratch image holding the host's BINARYs at
# their paths, with every shared library ldd finds for them (and the ELF interpreter).
image_from_host() {
  local image=$1 workdir=$2 cmd=$3 ctx f
  shift 3
  ctx="$T/ctx-${image##*/}"; ctx=${ctx%%:*}
  mkdir -p "$ctx/root$workdir"
  for f in "$@" $(ldd "$@" | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
    cp -L --parents "$f" "$ctx/root/"
  done
  printf 'FROM scratch\nCOPY root/ /\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nWORKDIR %s\nCMD %s\n' \
    "$workdir" "$cmd" >"$ctx/Containerfile"
  pm build --quiet --layers=false -t "$image" "$ctx" >/dev/null
}

# The busybox applets the writer's shell loop needs, and every other, as symlinks.
image_busybox() {
  local ctx="$T/ctx-busybox" a
  mkdir -p "$ctx/root/bin"
  cp /bin/busybox "$ctx/root/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$ctx/root/bin/$a"; done
  printf 'FROM scratch\nCOPY root/ /\nENV PATH=/bin\nCMD ["sh"]\n' >"$ctx/Containerfile"
  pm build --quiet --layers=false -t "$LOCAL/busybox:1.36" "$ctx" >/dev/null
}

build_images() {
  local t0=$SECONDS
  bash deploy/build-image.sh "$LOCAL/metrics-adapter:0.1.0"
  local t1=$SECONDS
  image_busybox
  # The official nginx image runs `nginx` from PATH; the manifest gives the command.
  image_from_host "$LOCAL/nginx:1.27" / '["nginx", "-g", "daemon off;"]' /usr/sbin/nginx
  # As the official redis image: redis-server with its defaults, its files in /data.
  image_from_host "$LOCAL/redis:7.4" /data '["redis-server"]' /usr/bin/redis-server
  say "images built (adapter $((t1 - t0)) s, app images $((SECONDS - t1)) s):"
  pm images --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' | grep "$LOCAL"
  ADAPTER_SIZE=$(pm image inspect --format '{{.Size}}' "$LOCAL/metrics-adapter:0.1.0")
}

# The image as shipped, without a config: it serves the container's /proc/meminfo.
check_default_config() {
  local port
  port=$(free_port)
  pm run -d --name default-config --read-only -p "127.0.0.1:$port:9898" \
    "$LOCAL/metrics-adapter:0.1.0" >/dev/null
  wait_http "http://127.0.0.1:$port/readyz" 20 || die "the image without --config: /readyz not 200 within 20 s"
  local page   # whole, not piped into grep -q: an early grep exit would fail curl (pipefail)
  page=$(curl -fs -m 5 "http://127.0.0.1:$port/metrics") || die "the image without --config: /metrics fails"
  grep -q '^node_memory_MemTotal_bytes [1-9]' <<<"$page" ||
    die "the image without --config does not serve node_memory_MemTotal_bytes"
  pm rm --force --time 2 default-config >/dev/null
  say "the image's embedded default config serves /proc/meminfo (read-only root)"
}

# ---- 2, 3. the pods ----------------------------------------------------------------------------
IMAGES=(
  "image:$ADAPTER_IMAGE=$LOCAL/metrics-adapter:0.1.0"
  "image:busybox:1.36=$LOCAL/busybox:1.36"
  "image:nginx:1.27=$LOCAL/nginx:1.27"
  "image:redis:7.4=$LOCAL/redis:7.4"
)

# play EXAMPLE [OPTION...]: render, adapt and `kube play` it; sets POD and MPORT[EXAMPLE].
play() {
  local ex=$1 dir=$EXAMPLES/${1%%+*} opts=() name p names
  shift
  # Every port of every container, each on a free 127.0.0.1 port.
  names=$(port_names "$dir") || die "$ex: cannot read its container ports"
  for name in $names; do
    p=$(free_port)
    opts+=("port:$name=$p")
    [ "$name" = metrics ] && MPORT[$ex]=$p
    [ "$name" = http ] && HPORT[$ex]=$p
  done
  $MANIFESTS podman-yaml "$dir" "${IMAGES[@]}" "${opts[@]}" "$@" >"$T/$ex.yaml" ||
    die "$ex: manifests.py podman-yaml failed"
  # --network podman: the bridge Debian's package configures. Without it kube play creates
  # and keeps a network of its own (podman-default-kube-network) in /etc/cni/net.d.
  if ! pm kube play --network podman "$T/$ex.yaml" >"$T/logs/play-$ex.log" 2>&1; then
    PLAY_ERROR=$(grep -m1 '^Error' "$T/logs/play-$ex.log" || tail -n 1 "$T/logs/play-$ex.log")
    return 1
  fi
  POD[$ex]=$(pm pod ps --filter "id=$(sed -n '/^Pod:/{n;p}' "$T/logs/play-$ex.log")" --format '{{.Name}}')
  [ -n "${POD[$ex]}" ] || die "$ex: kube play printed no pod: $(cat "$T/logs/play-$ex.log")"
}
port_names() { # DIR: the names of every container port of the example
  python3 - "$1" <<'EOF'
import sys
sys.path.insert(0, "deploy/test")
import manifests
_, spec = manifests.pod_spec(manifests.workload(sys.argv[1]))
print(" ".join(p["name"] for _, c in manifests.all_containers(spec) for p in c.get("ports", [])))
EOF
}

# Podman 4.3 checks init containers by the rules for run-to-completion ones (no probes) and
# does not know the container-level restartPolicy that makes one a native sidecar. Should a
# later podman accept it, the example is run and checked like meminfo-file.
try_native_sidecar() {
  PLAY_ERROR=""
  if play native-sidecar; then
    say "native-sidecar: podman accepted it; checking it like meminfo-file"
    RUN+=(native-sidecar)
  elif [[ $PLAY_ERROR == *"cannot create an init container that has either of lifecycle, livenessProbe, readinessProbe, or startupProbe set"* ]]; then
    say "native-sidecar: not run: podman $(pm version --format '{{.Client.Version}}') refuses it (\"$PLAY_ERROR\")"
    local half   # the pod it left behind, holding only its infra container
    for half in $(pm pod ps --filter name='^native-sidecar' --format '{{.Name}}'); do
      pm pod rm --force --time 0 "$half" >/dev/null
    done
  else
    die "native-sidecar: kube play failed otherwise: $PLAY_ERROR"
  fi
}

# ---- 4. the adapter's container ------------------------------------------------------------
check_adapter_container() { # EXAMPLE
  local ex=$1 c="${POD[$1]}-adapter" user ro pid uids
  read -r user ro pid < <(pm inspect --format '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.State.Pid}}' "$c")
  [ "$user" = 65532:65532 ] || die "$ex: adapter's user is '$user', not 65532:65532"
  [ "$ro" = true ] || die "$ex: adapter's root filesystem is not read-only (ReadonlyRootfs=$ro)"
  # What the process really is, not only what podman was asked for.
  uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$pid/status")
  [ "$uids" = "65532 65532 65532 65532" ] || die "$ex: adapter process $pid runs with uids $uids"
  [[ ,$(awk '$5 == "/" {print $6}' "/proc/$pid/mountinfo"), == *,ro,* ]] ||
    die "$ex: the adapter's / is mounted read-write: $(awk '$5 == "/"' "/proc/$pid/mountinfo")"
  local live ready
  read -r live ready < <($MANIFESTS probe-paths "$EXAMPLES/${ex%%+*}")
  wait_http "http://127.0.0.1:${MPORT[$ex]}$live" 20 || die "$ex: $live did not answer 200 within 20 s"
  wait_http "http://127.0.0.1:${MPORT[$ex]}$ready" 20 || die "$ex: $ready did not answer 200 within 20 s"
  say "$ex: adapter runs as 65532 on a read-only root; $live and $ready answer 200 on 127.0.0.1:${MPORT[$ex]}"
}

# ---- 5. Prometheus ---------------------------------------------------------------------------
start_prometheus() {
  local targets=() ex port
  for ex in "${RUN[@]}"; do targets+=("$EXAMPLES/$ex=${MPORT[$ex]}"); done
  $MANIFESTS rehearsal-prometheus-yml deploy/prometheus/scrape-config.yaml --namespace podman \
    "${targets[@]}" >"$T/prometheus.yml"
  # The shipped alerting rules, with every `for:` at 0s: their expressions are checked here
  # against real adapters' pages; the durations are unit-tested by deploy/test/rules.sh.
  sed -E 's/^( *)for: .*/\1for: 0s/' deploy/prometheus/alerts.yaml >"$T/alerts.yaml"
  printf 'rule_files:\n  - %s\n' "$T/alerts.yaml" >>"$T/prometheus.yml"
  promtool check config "$T/prometheus.yml" >"$T/logs/promtool.log" 2>&1 ||
    die "promtool rejects the generated prometheus.yml: $(cat "$T/logs/promtool.log")"
  port=$(free_port)
  timeout --kill-after=5 600 prometheus --config.file="$T/prometheus.yml" \
    --storage.tsdb.path="$T/prometheus-data" --web.listen-address="127.0.0.1:$port" \
    >"$T/logs/prometheus.log" 2>&1 &
  PROM_PID=$!
  PROM="http://127.0.0.1:$port"
  wait_http "$PROM/-/ready" 30 || die "Prometheus not ready within 30 s"
  say "Prometheus on $PROM scrapes the pods with the kubernetes-pods job, every 1 s"
}

check_in_prometheus() {
  local job='job="kubernetes-pods",namespace="podman"' ex pod checks sources
  checks=("count(up{$job}) == ${#RUN[@]}")
  for ex in "${RUN[@]}"; do
    pod="pod=\"$ex-podman\""
    sources=$(python3 -c 'import sys, tomllib; print(len(tomllib.load(open(sys.argv[1], "rb"))["sources"]))' \
      "$EXAMPLES/$ex/adapter.toml")
    checks+=("up{$job,$pod} == 1" "count(metrics_adapter_source_up{$job,$pod} == 1) == $sources")
    case $ex in
      meminfo-file|native-sidecar) checks+=(
        "node_memory_MemTotal_bytes{$job,$pod} > 0"
        # The writer appends a dump every 5 s: the served block and its numbers move.
        "changes(meminfo_block_timestamp_seconds{$job,$pod}[1m]) >= 2"
        "changes(node_memory_MemFree_bytes{$job,$pod}[1m]) >= 1"
        "time() - metrics_adapter_source_file_mtime_seconds{$job,$pod} < 15")
        # The seed's pod, read from nginx too: the same moving block, a few KiB a read.
        if [ "$ex" = meminfo-file ]; then checks+=(
          "changes(meminfo_block_timestamp_seconds{$job,$pod,via=\"http\"}[1m]) >= 2"
          "changes(node_memory_MemFree_bytes{$job,$pod,via=\"http\"}[1m]) >= 1"
          "increase(metrics_adapter_source_read_bytes_total{$job,$pod,source=\"meminfo_http\"}[30s]) / increase(metrics_adapter_source_reads_total{$job,$pod,source=\"meminfo_http\"}[30s]) < 16384")
        fi ;;
      nginx) checks+=("nginx_up{$job,$pod} == 1" "nginx_connections_active{$job,$pod} >= 1") ;;
      redis) checks+=("redis_up{$job,$pod} == 1" "redis_connected_clients{$job,$pod} >= 1") ;;
      # make_requests sent 5 GETs and 2 POSTs; readiness probes may add GETs.
      nginx-access-log) checks+=(
        "sum(nginx_http_response_count_total{$job,$pod,method=\"GET\",status=\"200\"}) >= 5"
        "sum(nginx_http_response_count_total{$job,$pod,method=\"POST\"}) == 2"
        "sum(nginx_http_response_size_bytes{$job,$pod,method=\"GET\",status=\"200\"}) >= 5 * 40"
        "sum(metrics_adapter_source_unmatched_total{$job,$pod,source=\"access\"}) == 0") ;;
      *) die "no checks for example $ex" ;;
    esac
  done
  say "waiting (at most $DEADLINE s) for ${#checks[@]} conditions in Prometheus"
  python3 deploy/test/promwait.py "$PROM" "$DEADLINE" "${checks[@]}" ||
    die "Prometheus did not see everything it should"
}

# The MemFree Prometheus holds is one the writer wrote: the numbers went through the file,
# the shared emptyDir (and for the seed's pod, nginx) and the adapter unchanged.
check_memfree_from_file() { # EXAMPLE FILE [VIA...]
  local ex=$1 file=$2 via served written selector
  shift 2
  # kB in the file, bytes in Prometheus (%.0f: awk's %g rounds, mawk's %d stops at 2^31)
  written=$(pm exec "${POD[$ex]}-app" cat "$file" | awk '/^MemFree:/ {printf "%.0f\n", $2 * 1024}')
  for via in "${@:-}"; do
    selector="pod=\"$ex-podman\"${via:+,via=\"$via\"}"
    served=$(promq "node_memory_MemFree_bytes{$selector}")
    [ -n "$served" ] || die "$ex: Prometheus has no node_memory_MemFree_bytes{$selector}"
    grep -qx "$served" <<<"$written" ||
      die "$ex: MemFree served ($served bytes, $selector) is in none of the $(wc -l <<<"$written") dumps of $file"
    say "$ex: MemFree in Prometheus ($served bytes${via:+, via $via}) is one of the writer's dumps"
  done
}

# The seed's nginx answers the adapter's tail requests as it would any client's: 206.
check_ranges() { # EXAMPLE
  local url="http://127.0.0.1:${HPORT[$1]}/index.html" code
  code=$(curl -s -m 2 -r -100 -o /dev/null -w '%{http_code}' "$url") || die "$1: nginx does not answer on $url"
  [ "$code" = 206 ] || die "$1: nginx answered $code to a Range request for $url, not 206"
  say "$1: nginx serves the writer's log on $url and answers Range requests with 206"
}

# Requests to the example's nginx, after the adapter is ready (it follows from the log's
# end): they reach Prometheus only through the access log on the shared emptyDir.
make_requests() { # EXAMPLE
  local url="http://127.0.0.1:${HPORT[$1]}/" i
  for i in 1 2 3 4 5; do curl -fs -m 2 -o /dev/null "$url" || die "$1: nginx does not answer on $url"; done
  # Forwarded: nginx's `main` format writes the header's list in its last field.
  for i in 1 2; do
    curl -s -m 2 -o /dev/null -X POST -H 'X-Forwarded-For: 10.1.2.3, 10.0.0.9' "$url" ||
      die "$1: nginx does not answer a POST"
  done
  say "$1: 5 GETs and 2 POSTs sent to nginx on $url"
}

# ---- 6. the writer stops ------------------------------------------------------------------------
check_writer_stopped() { # EXAMPLE
  local ex=$1 q m1 m2 stopped
  pm stop --time 2 "${POD[$ex]}-app" >/dev/null
  stopped=$(($(date +%s) + 1))   # whole seconds: the next one is surely after the stop
  q="metrics_adapter_source_file_mtime_seconds{pod=\"$ex-podman\",source=\"meminfo\"}"
  # A scrape after the last append, then one more than the writer's 5 s period later.
  wait_scraped_after "$q" "$stopped" 60 || die "$ex: Prometheus scraped nothing after the writer stopped"
  m1=$(promq "$q")
  wait_scraped_after "$q" "$((stopped + 6))" 60 || die "$ex: Prometheus stopped scraping the adapter"
  m2=$(promq "$q")
  [ -n "$m1" ] && [ "$m1" = "$m2" ] || die "$ex: the file's mtime still moves after the writer stopped ($m1 -> $m2)"
  [ "$(pm inspect --format '{{.State.Running}}' "${POD[$ex]}-adapter")" = true ] ||
    die "$ex: the adapter stopped with the writer"
  local live ready
  read -r live ready < <($MANIFESTS probe-paths "$EXAMPLES/$ex")
  curl -fs -m 2 -o /dev/null "http://127.0.0.1:${MPORT[$ex]}$live" || die "$ex: $live fails once the writer stopped"
  curl -fs -m 2 -o /dev/null "http://127.0.0.1:${MPORT[$ex]}$ready" || die "$ex: $ready fails once the writer stopped"
  say "$ex: writer stopped; the adapter stays live and ready, the file's mtime stays at $m1 (age $(promq "time() - $q" | cut -d. -f1) s)"
}

# The seed's dumps are dated: with no max_age, both ways of reading them go stale 3 write
# periods (15 s) after the writer stopped, and say so by kind.
check_stale_by_default() { # EXAMPLE
  local ex=$1 pod="pod=\"$1-podman\"" checks=() source
  for source in meminfo meminfo_http; do
    checks+=("metrics_adapter_source_up{$pod,source=\"$source\"} == 0"
      "increase(metrics_adapter_source_read_failures_total{$pod,source=\"$source\",kind=\"stale\"}[1m]) > 0")
  done
  python3 deploy/test/promwait.py "$PROM" 45 "${checks[@]}" >"$T/logs/stale-$ex.log" ||
    die "$ex: its sources did not go stale after the writer stopped: $(tail -n 20 "$T/logs/stale-$ex.log")"
  say "$ex: both sources (volume and http) went stale by themselves after the writer stopped"
}

# ---- 6b. the shipped alerts ---------------------------------------------------------------------
# Stops the nginx example's nginx: its adapter's source goes down, and Prometheus, with the
# shipped rules loaded, fires MetricsAdapterSourceDown for that pod and source, and for no
# other; the seed pod's two sources, stale since its writer stopped, fire
# MetricsAdapterSourceStale instead; no adapter is reported down or absent, and no reload as
# failed.
check_alerts() {
  local firing='ALERTS{alertstate="firing"' down='alertname="MetricsAdapterSourceDown"'
  local stale='alertname="MetricsAdapterSourceStale"'
  pm stop --time 2 "${POD[nginx]}-nginx" >/dev/null
  say "nginx: app container stopped; waiting (at most $DEADLINE s) for the SourceDown alert"
  python3 deploy/test/promwait.py "$PROM" "$DEADLINE" \
    "$firing,$down,pod=\"nginx-podman\",source=\"nginx\",severity=\"warning\"} == 1" \
    "count($firing,$down}) == 1" \
    "count($firing,$stale,pod=\"meminfo-file-podman\",source=~\"meminfo|meminfo_http\"}) == 2" \
    "count($firing,$stale}) == 2" \
    "absent($firing,alertname=~\"MetricsAdapter(Down|Absent|ConfigReloadFailed|DroppedSeries)\"})" ||
    die "the shipped alerts did not fire as they should"
  say "nginx: MetricsAdapterSourceDown fired for pod nginx-podman, source nginx, and only there; SourceStale for the seed pod's two sources"
}

# ---- 6c. a ConfigMap update, as the adapter sees it -------------------------------------------
# podman keeps a pod's ConfigMap in a volume of its own, mounted where the manifest says: a
# new adapter.toml renamed into it (as the kubelet swaps in a new version) must be in force
# without a restart or a signal, and a broken one must leave the last good one serving and
# fire MetricsAdapterConfigReloadFailed.
config_volume_dir() { # EXAMPLE: the host directory of the adapter's /etc/metrics-adapter
  local c="${POD[$1]}-adapter" vol
  vol=$(pm inspect --format '{{range .Mounts}}{{if eq .Destination "/etc/metrics-adapter"}}{{.Name}}{{end}}{{end}}' "$c")
  [ -n "$vol" ] || die "$1: no volume mounted at /etc/metrics-adapter in $c"
  pm volume inspect --format '{{.Mountpoint}}' "$vol"
}

check_config_map_update() {
  local ex=redis dir pod='pod="redis-podman"' job='job="kubernetes-pods"'
  dir=$(config_volume_dir "$ex")
  [ -f "$dir/adapter.toml" ] || die "$ex: no adapter.toml in the ConfigMap's volume $dir"
  # A second source: the container's /proc/meminfo, through the built-in recipe.
  { cat "$dir/adapter.toml"
    printf '\n[sources.host]\ntype = "file"\npath = "/proc/meminfo"\nparser = "meminfo"\n'
  } >"$dir/.adapter.toml.new"
  mv -f "$dir/.adapter.toml.new" "$dir/adapter.toml"
  say "$ex: a new adapter.toml (one more source) renamed into the ConfigMap's volume"
  python3 deploy/test/promwait.py "$PROM" "$DEADLINE" \
    "node_memory_MemTotal_bytes{$job,$pod} > 0" \
    "metrics_adapter_source_up{$job,$pod,source=\"host\"} == 1" \
    "metrics_adapter_config_last_reload_successful{$job,$pod} == 1" ||
    die "$ex: the updated ConfigMap did not come into force"
  printf '[sources.host]\ntype = "file"\nparser = "meminfo"\n' >"$dir/.adapter.toml.new"
  mv -f "$dir/.adapter.toml.new" "$dir/adapter.toml"
  python3 deploy/test/promwait.py "$PROM" "$DEADLINE" \
    "metrics_adapter_config_last_reload_successful{$job,$pod} == 0" \
    "ALERTS{alertstate=\"firing\",alertname=\"MetricsAdapterConfigReloadFailed\",$pod} == 1" \
    "redis_up{$job,$pod} == 1" \
    "metrics_adapter_source_up{$job,$pod,source=\"host\"} == 1" ||
    die "$ex: a broken ConfigMap update was not refused with the last good config serving"
  pm logs "${POD[$ex]}-adapter" 2>&1 | grep -q 'reload failed, the previous configuration keeps serving: /etc/metrics-adapter/adapter.toml: sources.host.path' ||
    die "$ex: the log does not name the file and key of the broken update"
  say "$ex: ConfigMap update in force by itself; a broken one refused, the last good config serving, MetricsAdapterConfigReloadFailed fired"
}

# ---- 7. a broken config ------------------------------------------------------------------------
check_broken_config() {
  local ex=meminfo-file+broken c line end
  play "$ex" suffix:-broken 'append-config:bogus_key = 1' || die "$ex: kube play failed: $PLAY_ERROR"
  c="${POD[$ex]}-adapter"
  end=$((SECONDS + 30))
  until line=$(pm logs "$c" 2>&1 | grep -m1 'bogus_key'); do
    [ "$SECONDS" -lt "$end" ] || die "$ex: no log line naming bogus_key within 30 s: $(pm logs --tail 5 "$c" 2>&1)"
    sleep 0.5
  done
  # The house shape: FILE: sources.NAME.KEY: reason. The line lands in the config's last
  # table, the http source's.
  [[ $line == *"/etc/metrics-adapter/adapter.toml: sources.meminfo_http.bogus_key: unknown field \`bogus_key\`"* ]] ||
    die "$ex: the log line does not say which file and key: $line"
  ! curl -fs -m 2 -o /dev/null "http://127.0.0.1:${MPORT[$ex]}/healthz" ||
    die "$ex: the adapter answers /healthz with a broken config"
  say "$ex: the adapter refuses the config; podman logs: ${line:0:120}..."
  pm pod rm --force --time 2 "${POD[$ex]}" >/dev/null
}

# ---- 8. shutdown ---------------------------------------------------------------------------------
check_sigterm() { # EXAMPLE
  local c="${POD[$1]}-adapter" rc
  pm stop --time 10 "$c" >/dev/null
  rc=$(pm inspect --format '{{.State.ExitCode}}' "$c")
  [ "$rc" = 0 ] || die "$1: adapter exited $rc on SIGTERM, not 0"
}

# ---- main ----------------------------------------------------------------------------------------
install_tools
write_podman_config
say "podman $(pm version --format '{{.Client.Version}}'), runc, private store in $T"
build_images
check_default_config

RUN=(meminfo-file nginx redis nginx-access-log)
for ex in "${RUN[@]}"; do
  play "$ex" || die "$ex: kube play failed: $PLAY_ERROR"
  say "$ex: pod ${POD[$ex]} playing, adapter on 127.0.0.1:${MPORT[$ex]}"
done
try_native_sidecar
for ex in "${RUN[@]}"; do check_adapter_container "$ex"; done
make_requests nginx-access-log

start_prometheus
check_in_prometheus
for ex in "${RUN[@]}"; do
  case $ex in
    meminfo-file) check_memfree_from_file "$ex" /data/index.html volume http; check_ranges "$ex" ;;
    native-sidecar) check_memfree_from_file "$ex" /data/meminfo.log ;;
  esac
done
check_writer_stopped meminfo-file
check_stale_by_default meminfo-file
check_alerts
check_config_map_update
check_broken_config
for ex in "${RUN[@]}"; do check_sigterm "$ex"; done
say "every adapter exited 0 on SIGTERM"

say "passed: ${RUN[*]} in $(( $(date +%s) - started )) s (adapter image $ADAPTER_SIZE bytes)"
