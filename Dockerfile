# syntax=docker/dockerfile:1.7
# One image for every role: `scim-connector gateway|adapter|audit|sim|dev|admin`.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# Nothing but cargo is needed: protobuf is compiled by protox (pure Rust), TLS is rustls,
# SQLite is bundled. gcc comes with the image for the few crates that build C.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin scim-connector \
    && install -D -m 0755 target/release/scim-connector /out/scim-connector

# distroless/cc: glibc and libgcc only, no shell, runs as uid 65532 ("nonroot").
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/scim-connector /usr/local/bin/scim-connector
USER 65532:65532
WORKDIR /var/lib/scim-connector
ENV SCIMC_DATA_DIR=/var/lib/scim-connector \
    SCIMC_LOG_FORMAT=json
EXPOSE 8080 8090 8081 50051 9091
ENTRYPOINT ["/usr/local/bin/scim-connector"]
CMD ["--help"]
