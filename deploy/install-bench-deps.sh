#!/usr/bin/env bash
# deploy/install-bench-deps.sh — install what only `make bench` needs beyond
# deploy/install-deps.sh: the peer systems that tests/bench/run measures beside
# Gregor (docs/PERFORMANCE.md §23) and their C clients (Debian 12 packages).
#
#   redis-tools     redis-benchmark, and the Redis 7 server binary itself
#                   (/usr/bin/redis-check-rdb runs as a server when called by
#                   another name; redis-server, the package with the system
#                   service, is not needed: the bench starts its own server)
#   libhiredis-dev  Redis's C client, for the XREAD reader (tests/bench/redis_read_bench.c)
#   nats-server     NATS 2.9 with JetStream
#   libnats-dev     NATS's C client, for tests/bench/nats_bench.c
#
# Idempotent like install-deps.sh: nothing happens when all are present. As
# root, or through sudo. Where systemd runs, the nats-server service that the
# package starts is stopped and disabled again (the bench runs its own).
set -euo pipefail

PACKAGES=(redis-tools libhiredis-dev nats-server libnats-dev)

is_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-bench-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-bench-deps: apt-get not found; install these by hand: ${missing[*]}" >&2
    exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "install-bench-deps: not root and no sudo; install as root: ${missing[*]}" >&2
        exit 1
    }
    SUDO=(sudo)
fi

echo "install-bench-deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"

if [[ " ${missing[*]} " == *" nats-server "* ]] && [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl disable --now nats-server.service 2>/dev/null || true
fi
