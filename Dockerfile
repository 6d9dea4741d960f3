# Build stage: the release binary (libpq is compiled in, see Cargo.toml).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
# Cargo.toml declares the benches: their sources must be present to build.
COPY bench ./bench
RUN cargo build --release --locked

# Runtime stage: a small image, a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home clientele
COPY --from=build /src/target/release/clientele /usr/local/bin/clientele
USER 10001
ENV CLIENTELE_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["clientele"]
CMD ["serve"]
