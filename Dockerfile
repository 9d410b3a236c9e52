# syntax=docker/dockerfile:1
# One image holding both services; docker-compose.yml picks the binary with `command`.
#
#   docker build -t course-platform .
#   docker run --rm -e AUTH_JWT_SECRET=... -p 5001:5001 course-platform course-service

# Build: the same command as .ci/run's release build.
FROM rust:1.95-slim-trixie AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bins

# Run: a slim base, a non-root user, the two binaries and nothing else (health checks use the
# binaries' own `healthcheck` subcommand, so no curl).
FROM debian:trixie-slim
RUN useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin app \
    && mkdir /data \
    && chown app:app /data
COPY --from=build /src/target/release/course-service /src/target/release/order-service /usr/local/bin/
USER app:app
WORKDIR /data
ENV HOST=0.0.0.0 \
    DATA_DIR=/data \
    LOG_FORMAT=json
VOLUME ["/data"]
EXPOSE 5001 5002
STOPSIGNAL SIGTERM
CMD ["course-service"]
