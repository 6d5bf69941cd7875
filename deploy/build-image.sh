#!/usr/bin/env bash
# build-image.sh - build the adapter's image with podman, offline (Containerfile.offline).
#
#   bash deploy/build-image.sh [IMAGE]
#
# IMAGE defaults to the name the manifests use, ghcr.io/metrics-adapter/metrics-adapter:
# VERSION (Cargo.toml's version). The Dockerfile needs two base images from registries
# (rust:1-bookworm, distroless/static); this builds the same runtime image from what is on
# this machine: it compiles the static musl binary here (or takes BINARY=path, already built),
# checks it as the Dockerfile does (static, `--version`, `check` on the embedded default
# config), stages it with /etc/passwd and /etc/group in a temporary build context, and runs
# `podman build -f Containerfile.offline`. Prints the image's size.
#
# Needs: podman; for the compile, cargo with the x86_64-unknown-linux-musl target (added here
# with rustup when missing) and musl-gcc (Debian: musl-tools; ring compiles C).
# Honours podman's own environment (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF), so
# deploy/test/pod.sh can build into its private image store.
set -euo pipefail

if [ -n "${BINARY:-}" ]; then BINARY=$(realpath -m "$BINARY"); fi
cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-musl
VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
IMAGE=${1:-ghcr.io/metrics-adapter/metrics-adapter:$VERSION}

say() { printf '[build-image] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

build_binary() { # -> path of the static release binary
  command -v cargo >/dev/null || die "cargo not found: install Rust stable (https://rustup.rs)"
  if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
    say "rustup target add $TARGET"
    rustup target add "$TARGET" >&2 || die "cannot add the $TARGET target with rustup"
  fi
  command -v musl-gcc >/dev/null || die "musl-gcc not found (Debian: apt-get install musl-tools)"
  say "cargo build --release --locked --target $TARGET"
  cargo build --release --locked --target "$TARGET" >&2
  echo "$PWD/target/$TARGET/release/metrics-adapter"
}

# The image has no libc: a dynamically linked binary would fail only when the pod starts.
check_binary() { # BINARY
  [ -x "$1" ] || die "$1 is not an executable"
  if readelf -d "$1" | grep -q NEEDED; then
    readelf -d "$1" | grep NEEDED >&2
    die "$1 is dynamically linked; the image needs a static binary"
  fi
  "$1" --version >&2 || die "$1 --version failed"
  "$1" check >/dev/null || die "$1 check (the embedded default config) failed"
}

# The user database of distroless/static:nonroot, so uid 65532 has a name, as there.
stage_context() { # DIR BINARY
  mkdir -p "$1/rootfs/etc"
  install -m 0755 "$2" "$1/metrics-adapter"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
    'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$1/rootfs/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' >"$1/rootfs/etc/group"
  chmod 0644 "$1/rootfs/etc/passwd" "$1/rootfs/etc/group"
  cp Containerfile.offline "$1/Containerfile"
}

command -v podman >/dev/null || die "podman not found (Debian: apt-get install podman runc catatonit)"
bin=${BINARY:-$(build_binary)}
check_binary "$bin"
ctx=$(mktemp -d "${TMPDIR:-/tmp}/metrics-adapter-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
stage_context "$ctx" "$bin"
say "podman build -f Containerfile.offline -t $IMAGE (VERSION=$VERSION)"
# FROM scratch: nothing is pulled; bounded all the same, like every step of the tests.
timeout 300 podman build --quiet --layers=false --build-arg "VERSION=$VERSION" -f "$ctx/Containerfile" \
  -t "$IMAGE" "$ctx" >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
say "built $IMAGE: $size bytes ($(( (size + 524288) / 1048576 )) MiB; binary $(stat -c %s "$bin") bytes)"
