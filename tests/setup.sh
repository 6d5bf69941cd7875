#!/usr/bin/env bash
# setup.sh - install everything the tests talk to, on a fresh Debian 12 (bookworm).
#
#   bash tests/setup.sh
#
# The integration tests (tests/integration/) start real servers as plain child processes on
# 127.0.0.1 (nginx, redis, memcached, haproxy, apache2, php-fpm), check pages with
# promtool and Python's prometheus_client, and compare with the peer exporters. This script
# installs them with apt-get (and, in the marked section at the end, what deploy/ needs
# from PyPI). It is idempotent and fast when nothing is missing: apt is
# skipped entirely when every package is already installed (checked with dpkg-query).
#
# Packaged services must not start (the tests run their own copies on free ports, and a
# container has no init): while installing, /usr/sbin/policy-rc.d answers 101 ("action
# forbidden"). If that file did not exist before, it is created for the install only and
# removed afterwards; an existing one (Docker images ship one) is left alone.
#
# Uses sudo only when not run as root.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

# One entry per line; `a|b` means any one of them will do (the first is installed).
PACKAGES=(
  "nginx-light|nginx|nginx-core|nginx-full|nginx-extras"   # /usr/sbin/nginx, stub_status
  redis-server                                           # /usr/bin/redis-server
  redis-tools                                            # redis-cli, redis-benchmark
  memcached
  haproxy
  apache2                                                # mod_status is built in
  php-fpm                                                # php8.2-fpm on bookworm
  php-cli                                                # php -S: a server answering POSTed queries
  prometheus                                             # promtool, and the server for deploy rehearsals
  python3
  python3-prometheus-client                              # the independent exposition parser
  curl
  iproute2                                               # ss: the write-timeout test watches a FIN
  openssl                                                # certificates for the TLS tests
  jq
  netcat-openbsd                                         # nc, for poking at raw TCP stats by hand
  python3-yaml                                           # deploy/test: reading manifests
  libfcgi-bin                                            # cgi-fcgi: talk FastCGI to php-fpm directly
  prometheus-nginx-exporter                              # the peer exporters recipes are compared with
  prometheus-redis-exporter
  prometheus-haproxy-exporter
  prometheus-apache-exporter
  wrk
  "kubernetes-client|kubectl"                            # kubectl kustomize: deploy/test/validate.sh
  # deploy/test/pod.sh: real containers without Docker or a registry
  podman                                                 # kube play; builds the FROM scratch images
  runc                                                   # the OCI runtime pod.sh selects (crun fails here)
  catatonit                                              # podman builds its pod infra image from it
  busybox-static                                         # the meminfo writer's image (a static busybox)
  musl-tools                                             # musl-gcc: the static binary (ring and jemalloc compile C)
  make                                                   # jemalloc's build (the static binary's allocator)
  mariadb-server                                         # mysql_slow_log: mariadbd writing its slow query log
  vsftpd                                                 # vsftpd_log, vsftpd_xferlog
  lighttpd                                               # lighttpd_access
  rsync                                                  # rsyncd_log: the rsync daemon
  openssh-server                                         # sftp_log: sshd's internal-sftp (tests run it in a mount namespace)
)

log() { printf '[setup] %s\n' "$*" >&2; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo --preserve-env=DEBIAN_FRONTEND)
else
  log "not root and no sudo: run as root, or install: ${PACKAGES[*]}"
  exit 1
fi

installed() { # installed PKG -> true if dpkg knows it as installed
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

missing=()
for entry in "${PACKAGES[@]}"; do
  found=0
  IFS='|' read -r -a alternatives <<<"$entry"
  for p in "${alternatives[@]}"; do
    if installed "$p"; then found=1; break; fi
  done
  if [ "$found" -eq 0 ]; then missing+=("${alternatives[0]}"); fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  log "all ${#PACKAGES[@]} packages already installed; skipping apt-get"
else
  log "installing: ${missing[*]}"
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# written by metrics-adapter tests/setup.sh for the install only\nexit 101\n' \
      | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  remove_policy() {
    if [ "$created_policy" -eq 1 ]; then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi
  }
  trap remove_policy EXIT
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  remove_policy
  trap - EXIT
fi

# Fail now, with the package name, rather than in the middle of a test run.
check() { # check PATH PACKAGE
  if [ ! -x "$1" ]; then log "ERROR: $1 missing after install (package $2)"; exit 1; fi
}
check /usr/sbin/nginx nginx-light
check /usr/bin/redis-server redis-server
check /usr/bin/redis-cli redis-tools
check /usr/bin/memcached memcached
check /usr/sbin/haproxy haproxy
check /usr/sbin/apache2 apache2
check /usr/bin/promtool prometheus
check /usr/bin/cgi-fcgi libfcgi-bin
check /usr/bin/podman podman
check /usr/sbin/runc runc
check /usr/bin/catatonit catatonit
check /usr/bin/musl-gcc musl-tools
if ! command -v kubectl >/dev/null; then log "ERROR: no kubectl (package kubernetes-client)"; exit 1; fi
if ! ls /usr/sbin/php-fpm* >/dev/null 2>&1; then log "ERROR: no /usr/sbin/php-fpm* (package php-fpm)"; exit 1; fi
if ! /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
  log "ERROR: /usr/bin/python3 cannot import prometheus_client (package python3-prometheus-client)"
  exit 1
fi

# ---- pip packages (deploy task) ---------------------------------------------------------
# Reserved for the deploy checks: whatever deploy/test/validate.sh needs from PyPI goes here.
# deploy/test/validate.sh: Kubernetes schema validation, from PyPI. validate.sh runs it as
# `python3 -m kubernetes_validate`, so a --user install needs no PATH change.
# Debian 12's python3 comes without pip, and refuses pip installs into the system
# (PEP 668, an EXTERNALLY-MANAGED file): there, python3-pip from apt, and a --user install
# (--break-system-packages only lifts that refusal; nothing outside ~/.local is touched).
if ! python3 -c 'import kubernetes_validate' 2>/dev/null; then
  log "installing kubernetes-validate (PyPI)"
  if ! python3 -m pip --version >/dev/null 2>&1; then
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends python3-pip
  fi
  if python3 -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
    python3 -m pip install --quiet --user --break-system-packages --no-warn-script-location \
      kubernetes-validate
  else
    python3 -m pip install --quiet kubernetes-validate
  fi
  if ! python3 -c 'import kubernetes_validate'; then
    log "ERROR: python3 cannot import kubernetes_validate after pip install"
    exit 1
  fi
fi
# ---- end of pip packages -------------------------------------------------------------------

command -v cargo >/dev/null || { echo "setup: cargo not found: install Rust stable (https://rustup.rs)" >&2; exit 1; }
log "test dependencies ready"
