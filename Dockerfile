# syntax=docker/dockerfile:1
# One image for every process: `emporium api`, `emporium worker --service <name>`,
# `emporium migrate`. Built in release mode without the benchmark (`--no-default-features`);
# the web app (storefront, console, /docs) is built in a Node stage from its lockfile; the
# runtime stage holds the binary, the web build, CA roots and curl (for health checks), and
# runs as an unprivileged user.

FROM node:20-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

FROM rust:1.95-bookworm AS build
# The Temporal SDK compiles its protos: protoc and Google's well-known types.
RUN apt-get update \
 && apt-get install -y --no-install-recommends protobuf-compiler libprotobuf-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --package emporium --no-default-features \
 && cp target/release/emporium /usr/local/bin/emporium

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/emporium --create-home emporium
COPY --from=build /usr/local/bin/emporium /usr/local/bin/emporium
COPY --from=web /web/dist /usr/share/emporium/web
USER emporium
WORKDIR /var/lib/emporium
ENV EMPORIUM_DATA_DIR=/var/lib/emporium \
    EMPORIUM_API__WEB_DIR=/usr/share/emporium/web \
    EMPORIUM_LOG__JSON=true
# 8080: the API. 9090: a worker's /healthz, /readyz and /metrics.
EXPOSE 8080 9090
ENTRYPOINT ["emporium"]
CMD ["api"]
