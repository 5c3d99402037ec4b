# One image with the five exporters; each compose service runs one of them.
# Static binaries on a distroless base: no shell, no package manager, runs as
# a non-root user and with a read-only root filesystem. Each binary checks
# its own liveness (`sidewatch-<x> healthcheck`), so healthchecks need no
# shell either; docker-compose.yml runs the right one per service.
#
# The builder must be at least the highest rust-version in Cargo.lock (a test
# holds it to that). Both bases are build arguments so that the test suite
# can build this file unchanged with local stand-ins (docs/docker-test-images.md).
ARG BUILDER_IMAGE=rust:1.95-trixie
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${BUILDER_IMAGE} AS build
WORKDIR /src
# Static and non-PIE, with the release profile of Cargo.toml: the binaries
# bench/ measures (docs/benchmarks.md; a test holds the flags equal).
ENV RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static"
# The dependencies first, from the manifests alone (empty crates stand in for
# ours), so that a change to sidewatch's code rebuilds only its own crates.
# Every workspace member's Cargo.toml is listed here (a test checks it).
COPY Cargo.toml Cargo.lock ./
COPY common/Cargo.toml common/symbol-order.rs common/
COPY common/malloc/Cargo.toml common/malloc/
COPY clients/postgres/Cargo.toml clients/postgres/
COPY clients/redis/Cargo.toml clients/redis/
COPY clients/timex/Cargo.toml clients/timex/
COPY exporters/node/Cargo.toml exporters/node/
COPY exporters/postgres/Cargo.toml exporters/postgres/
COPY exporters/queue/Cargo.toml exporters/queue/
COPY exporters/redis/Cargo.toml exporters/redis/
COPY exporters/wal/Cargo.toml exporters/wal/
COPY testkit/Cargo.toml testkit/
RUN for crate in common common/malloc clients/* exporters/* testkit; do \
      mkdir -p "$crate/src" && touch "$crate/src/lib.rs"; \
    done \
 && for crate in exporters/*; do echo 'fn main() {}' > "$crate/src/main.rs"; done \
 && cargo build --release --locked --target x86_64-unknown-linux-gnu \
      -p sidewatch-node -p sidewatch-postgres -p sidewatch-redis -p sidewatch-wal -p sidewatch-queue
COPY . .
# The real sources are newer than the empty crates for cargo's fingerprints.
RUN find common clients exporters testkit -name '*.rs' -exec touch {} + \
 && cargo build --release --locked --target x86_64-unknown-linux-gnu \
      -p sidewatch-node -p sidewatch-postgres -p sidewatch-redis -p sidewatch-wal -p sidewatch-queue

FROM ${RUNTIME_IMAGE}
COPY --from=build /src/target/x86_64-unknown-linux-gnu/release/sidewatch-node \
                  /src/target/x86_64-unknown-linux-gnu/release/sidewatch-postgres \
                  /src/target/x86_64-unknown-linux-gnu/release/sidewatch-redis \
                  /src/target/x86_64-unknown-linux-gnu/release/sidewatch-wal \
                  /src/target/x86_64-unknown-linux-gnu/release/sidewatch-queue \
                  /usr/local/bin/
# distroless's nonroot user, by number so no passwd lookup is needed.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/sidewatch-node"]
