# syntax=docker/dockerfile:1
#
# The metrics-adapter container image: one static (musl) binary on distroless/static, no
# shell, no libc, running as uid 65532. Build from the repository root (BuildKit, the
# default builder since Docker 23):
#
#   docker build --build-arg VERSION=0.1.0 \
#     --build-arg REVISION=$(git rev-parse HEAD) --build-arg BRANCH=$(git rev-parse --abbrev-ref HEAD) \
#     -t ghcr.io/metrics-adapter/metrics-adapter:0.1.0 .
#
# The image reads its config from --config FILE (or METRICS_ADAPTER_CONFIG); without one it
# serves the container's /proc/meminfo on :9898. It writes nothing to disk, so it runs with
# a read-only root filesystem. See deploy/README.md.

# ---- build: a static x86_64 musl binary -------------------------------------------------
FROM rust:1-bookworm AS build

# musl-tools: musl-gcc, for any dependency that compiles C for the musl target.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/*
RUN rustup target add x86_64-unknown-linux-musl

WORKDIR /src
# .git stays out of the context: the revision and branch for metrics_adapter_build_info come
# in as build args (build.rs writes "unknown" without them).
ARG REVISION=""
ARG BRANCH=""
ENV METRICS_ADAPTER_BUILD_REVISION=${REVISION} METRICS_ADAPTER_BUILD_BRANCH=${BRANCH}
# The whole context (.dockerignore keeps out target/, .git/, deploy/): Cargo.toml names
# tests/ and benches/ targets, so the manifest does not load without them.
COPY . .

# Cache mounts keep the crate registry and target/ between builds; the binary is copied out
# of the cached target/ in the same step. It must be static (distroless/static has no
# libc): the build fails here, not at the pod's start, if a dependency links one in.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --target x86_64-unknown-linux-musl \
 && install -D -m 0755 target/x86_64-unknown-linux-musl/release/metrics-adapter /out/metrics-adapter \
 && if readelf -d /out/metrics-adapter | grep -q NEEDED; then \
      echo "metrics-adapter is dynamically linked:"; readelf -d /out/metrics-adapter; exit 1; \
    fi \
 && /out/metrics-adapter --version \
 && /out/metrics-adapter check

# ---- runtime ----------------------------------------------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot

# Keep VERSION equal to Cargo.toml's version (deploy/test/validate.sh checks the default).
ARG VERSION=0.1.0
# Placeholder, as is the ghcr.io/metrics-adapter image name: set both to where you publish.
ARG SOURCE=https://github.com/metrics-adapter/metrics-adapter

LABEL org.opencontainers.image.title="metrics-adapter" \
      org.opencontainers.image.description="Prometheus adapter sidecar: reads an app's own stats (files, status pages, sockets), parses them with a recipe chosen in config, and serves /metrics." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"

COPY --from=build /out/metrics-adapter /metrics-adapter

# distroless "nonroot" is 65532:65532; numeric, so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 9898
# No HEALTHCHECK: there is no shell or curl in the image; Kubernetes probes /healthz and
# /readyz (deploy/kubernetes/).
ENTRYPOINT ["/metrics-adapter"]
