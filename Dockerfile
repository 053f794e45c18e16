# chat-engine in a container (docs/operations.md §12). Two stages: the build, on Debian 12 with the
# project's own scripts (the same dependencies and Release build as `make build`); the runtime, on
# debian:bookworm-slim with only the libraries the binary links, a user of its own and a data volume.
#
#   docker build -t chat-engine .
#   docker run -p 8000:8000 -v chat-data:/var/lib/chat-engine chat-engine
#
# scripts/check-dockerfile.sh runs these steps on a Debian 12 machine without Docker (make test): the
# build stage on the machine itself, the runtime stage in a minimal Debian root (its header says how).
# It reads BUILD_DIR and STAGING as build arguments, so keep their every use going through them.

ARG BUILD_DIR=/src/build
ARG STAGING=/staging

FROM debian:bookworm AS build
ARG BUILD_DIR
ARG STAGING
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
# A layer of its own, so that a source change does not reinstall the packages.
RUN scripts/install-deps.sh
COPY . .
# Only the server's target: the image needs neither the tests nor the benchmark tools.
RUN make "$BUILD_DIR/build.ninja" BUILD_DIR="$BUILD_DIR" \
 && cmake --build "$BUILD_DIR" --target chat-engine
# Everything the runtime image gets, laid out as it will be there. The web client's build output
# (web/dist, once it exists) goes to /usr/share/chat-engine/web.
RUN install -D -m 0755 "$BUILD_DIR/chat-engine" "$STAGING/usr/local/bin/chat-engine" \
 && mkdir -p "$STAGING/usr/share/chat-engine" \
 && if [ -d web/dist ]; then cp -R web/dist "$STAGING/usr/share/chat-engine/web"; fi

FROM debian:bookworm-slim
ARG STAGING
# The shared libraries the binary links (scripts/check-dockerfile.sh compares them with ldd), and
# curl for the health check. Nothing else: no compiler, no shell tools beyond the base image's.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libboost-json1.81.0 libboost-program-options1.81.0 libboost-url1.81.0 \
      libssl3 librocksdb7.8 libpq5 librdkafka1 \
      curl \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /var/lib/chat-engine --shell /usr/sbin/nologin chat-engine \
 && install -d -m 0700 -o chat-engine -g chat-engine /var/lib/chat-engine
COPY --from=build $STAGING/ /
USER chat-engine
WORKDIR /var/lib/chat-engine
# Listen on every interface of the container; the data (the RocksDB store, the generated JWT secret
# unless CHAT_JWT_SECRET or CHAT_JWT_SECRET_FILE is set) in the volume. Every other option keeps
# its default; set any as CHAT_<OPTION> (docs/operations.md §2).
ENV CHAT_LISTEN=0.0.0.0:8000 \
    CHAT_DATA_DIR=/var/lib/chat-engine
VOLUME /var/lib/chat-engine
EXPOSE 8000
# /readyz: 200 once the store (and in cluster mode the database and Kafka) is ready, 503 while it
# drains. The port follows CHAT_LISTEN.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${CHAT_LISTEN##*:}/readyz" || exit 1
# SIGTERM drains within --shutdown-timeout (10 s): give `docker stop` more than that (-t 15).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/chat-engine"]
