# deploy/docker/gregor.Dockerfile — the `gregor` image: gregor-broker and the
# gregor CLI on Debian bookworm, run as the non-root user `gregor`, data in the
# volume /var/lib/gregor. Build context: the repository root (.dockerignore
# keeps it to the sources).
#
# BASE_IMAGE defaults to debian:bookworm-slim (pulled on a machine that can);
# `make image` passes gregor-base:bookworm, a base built locally by
# deploy/docker/build-images.sh, so no registry is needed. Both stages only
# apt-get from Debian's mirror.
#
# Stage `build` compiles the two binaries (no tests); the runtime stage holds
# only the shared libraries they link (no compiler), and the openssl command
# with deploy/make-certs.sh (as gregor-make-certs) for the certificates of the
# compose file's `secure` profile (gregor-secure-setup).
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc libc6-dev make cmake pkg-config python3 binutils \
      libevent-dev libzookeeper-mt-dev libprotobuf-c-dev protobuf-c-compiler \
      librdkafka-dev libssl-dev zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY common common
COPY proto proto
COPY controller controller
COPY broker broker
COPY cli cli
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGREGOR_TESTS=OFF >/dev/null \
 && cmake --build /build -j"$(nproc)" --target gregor-broker gregor \
 && strip --strip-debug /build/bin/gregor-broker /build/bin/gregor

FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libevent-2.1-7 libevent-core-2.1-7 libevent-pthreads-2.1-7 libevent-openssl-2.1-7 \
      libprotobuf-c1 libzookeeper-mt2 librdkafka1 libssl3 zlib1g libsnappy1v5 liblz4-1 libzstd1 \
      openssl \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && groupadd --system --gid 1000 gregor \
 && useradd --system --uid 1000 --gid gregor --home-dir /var/lib/gregor \
      --no-create-home --shell /usr/sbin/nologin gregor \
 && mkdir -p /var/lib/gregor/data /etc/gregor \
 && chown -R gregor:gregor /var/lib/gregor
COPY --from=build /build/bin/gregor-broker /build/bin/gregor /usr/local/bin/
COPY deploy/config/server.properties /etc/gregor/server.properties
COPY deploy/docker/gregor-ready deploy/docker/gregor-secure-setup /usr/local/bin/
COPY deploy/make-certs.sh /usr/local/bin/gregor-make-certs
# Defaults for a container; docker-compose.yml sets the per-broker keys
# (broker.id, zookeeper.connect, listeners) through GREGOR_* variables
# (docs/configuration.md, "Sources and precedence").
ENV GREGOR_LOG_DIRS=/var/lib/gregor/data \
    GREGOR_GREGOR_HTTP_HOST=0.0.0.0 \
    GREGOR_GREGOR_HTTP_PORT=8080
USER gregor
WORKDIR /var/lib/gregor
VOLUME /var/lib/gregor
EXPOSE 9092 19092 8080
HEALTHCHECK --interval=2s --timeout=2s --start-period=60s --retries=3 CMD ["gregor-ready"]
ENTRYPOINT ["gregor-broker", "/etc/gregor/server.properties"]
