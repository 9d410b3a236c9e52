# syntax=docker/dockerfile:1
# One image holding both services and the storefront; docker-compose.yml picks the binary with
# `command`.
#
#   docker build -t course-platform .
#   docker run --rm -e AUTH_JWT_SECRET=... -p 5001:5001 course-platform course-service

# Build: the three binaries the image ships and nothing else (no launcher, load generator or
# tests). The cargo registry and the target directory are cache mounts (BuildKit, Docker's
# default builder), so after a source change only the crates that changed are compiled again,
# not every dependency. The binaries are copied out of the cache mount, which no later stage sees.
FROM rust:1.95-slim-trixie AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,id=course-platform-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=course-platform-target,target=/src/target,sharing=locked \
    cargo build --release --locked -p course-service -p order-service -p storefront --bins \
    && mkdir -p /out \
    && cp target/release/course-service target/release/order-service target/release/storefront /out/

# Run: a slim base, a non-root user, the three binaries and the CA certificates order-service needs
# to reach Stripe over TLS (health checks use the binaries' own `healthcheck` subcommand, so no
# curl).
FROM debian:trixie-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin app \
    && mkdir /data \
    && chown app:app /data
COPY --from=build /out/course-service /out/order-service /out/storefront /usr/local/bin/
USER app:app
WORKDIR /data
ENV HOST=0.0.0.0 \
    DATA_DIR=/data \
    LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 5000 5001 5002
STOPSIGNAL SIGTERM
CMD ["course-service"]
