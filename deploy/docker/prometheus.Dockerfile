# deploy/docker/prometheus.Dockerfile — the `gregor-prometheus` image of the compose file's
# `monitoring` profile: Debian's Prometheus (package `prometheus`, 2.42 in bookworm) with
# deploy/prometheus/prometheus.yml (scrapes broker-1..3:8080) and alerts.yml, and the Gregor
# dashboard as a console template (deploy/prometheus/consoles/gregor.html with its library
# console_libraries/gregor.lib) at http://localhost:9090/consoles/gregor.html, beside the web UI
# and alerts page on port 9090; data in the volume /var/lib/prometheus. Runs as the package's
# user `prometheus`. Build context: the repository root. BASE_IMAGE: as in gregor.Dockerfile.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log \
 && mkdir -p /var/lib/prometheus/metrics2 \
 && chown -R prometheus:prometheus /var/lib/prometheus
COPY deploy/prometheus/prometheus.yml deploy/prometheus/alerts.yml /etc/prometheus/
COPY deploy/prometheus/consoles/ /etc/prometheus/consoles/
COPY deploy/prometheus/console_libraries/ /etc/prometheus/console_libraries/
USER prometheus
WORKDIR /var/lib/prometheus
VOLUME /var/lib/prometheus
EXPOSE 9090
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=3 \
  CMD ["promtool", "query", "instant", "http://localhost:9090", "vector(1)"]
ENTRYPOINT ["prometheus", "--config.file=/etc/prometheus/prometheus.yml", \
  "--storage.tsdb.path=/var/lib/prometheus/metrics2", "--web.listen-address=:9090", \
  "--web.console.libraries=/etc/prometheus/console_libraries", \
  "--web.console.templates=/etc/prometheus/consoles"]
