# deploy/docker/zookeeper.Dockerfile — the `gregor-zookeeper` image: Debian's
# ZooKeeper 3.8 (the server jars of the `zookeeper` source package, from
# libzookeeper-java) on a headless JRE, run as the non-root user `zookeeper`,
# data in the volume /var/lib/zookeeper. One node standalone, or a member of
# an ensemble (ZOO_MY_ID, ZOO_SERVERS: deploy/docker/zookeeper-entrypoint).
# Debian's `zookeeper` binary package itself only adds init scripts and pulls
# the full (X11) default-jre, so it is not installed.
# Build context: the repository root. BASE_IMAGE: as in gregor.Dockerfile.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN mkdir -p /usr/share/man/man1 \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      default-jre-headless libzookeeper-java libslf4j-java \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && groupadd --system --gid 1001 zookeeper \
 && useradd --system --uid 1001 --gid zookeeper --home-dir /var/lib/zookeeper \
      --no-create-home --shell /usr/sbin/nologin zookeeper \
 && mkdir -p /var/lib/zookeeper/data /etc/zookeeper \
 && chown -R zookeeper:zookeeper /var/lib/zookeeper /etc/zookeeper
COPY deploy/docker/zookeeper-entrypoint deploy/docker/zookeeper-ready /usr/local/bin/
USER zookeeper
WORKDIR /var/lib/zookeeper
VOLUME /var/lib/zookeeper
EXPOSE 2181 2888 3888
HEALTHCHECK --interval=2s --timeout=3s --start-period=60s --retries=3 CMD ["zookeeper-ready"]
ENTRYPOINT ["zookeeper-entrypoint"]
