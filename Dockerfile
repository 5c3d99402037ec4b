# One image with the five exporters; each compose service runs one of them.
# Static binaries on a distroless base: no shell, no package manager,
# runs as a non-root user and with a read-only root filesystem.
FROM rust:1.85-bookworm AS build
WORKDIR /src
COPY . .
RUN RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu \
      -p sidewatch-node -p sidewatch-postgres -p sidewatch-redis -p sidewatch-wal -p sidewatch-queue

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/x86_64-unknown-linux-gnu/release/sidewatch-node \
                  /src/target/x86_64-unknown-linux-gnu/release/sidewatch-postgres \
                  /src/target/x86_64-unknown-linux-gnu/release/sidewatch-redis \
                  /src/target/x86_64-unknown-linux-gnu/release/sidewatch-wal \
                  /src/target/x86_64-unknown-linux-gnu/release/sidewatch-queue \
                  /usr/local/bin/
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/sidewatch-node"]
