#!/usr/bin/env bash
# deploy/install-deps.sh — install Gregor's build, run and test dependencies
# (Debian 12 packages). Idempotent: does nothing when everything is present,
# and runs `apt-get update` only when a package is missing.
#
#   deploy/install-deps.sh           what make build/run/test need
#   deploy/install-deps.sh --bench   also the peer systems `make bench` measures
#                                    beside Gregor (docs/PERFORMANCE.md §23):
#     redis-tools     redis-benchmark, and the Redis 7 server binary itself
#                     (/usr/bin/redis-check-rdb runs as a server when called by
#                     another name; redis-server, the package with the system
#                     service, is not needed: the bench starts its own server)
#     libhiredis-dev  Redis's C client, for tests/bench/redis_read_bench.c
#     nats-server     NATS 2.9 with JetStream (where systemd runs, the service
#                     the package starts is stopped and disabled again)
#     libnats-dev     NATS's C client, for tests/bench/nats_bench.c
#
# Works as root; otherwise uses sudo. ZooKeeper comes from the `zookeeper`
# package only (jars in /usr/share/java); `zookeeperd` (a system service) is
# deliberately not installed: deploy/local-cluster.sh and the test harness
# start their own ZooKeeper.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config
    libevent-dev libssl-dev openssl libzookeeper-mt-dev zookeeper
    libprotobuf-c-dev protobuf-c-compiler
    libcriterion-dev librdkafka-dev
    kcat python3-confluent-kafka python3-kafka
    # the web console's browser test (tests/integration/protocol/test_console_browser.py)
    chromium
    iperf3 clang libclang-rt-14-dev clang-format
    # gregor doctor's clock-skew test runs a broker under libfaketime
    libfaketime
    zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev
    # make deb and its test (tests/package/test_deb.sh): dpkg-shlibdeps,
    # lintian, systemd-analyze, a bookworm root for the install test
    dpkg-dev lintian systemd mmdebstrap file
)
BENCH_PACKAGES=(redis-tools libhiredis-dev nats-server libnats-dev)
case "${1:-}" in
    "") ;;
    --bench) PACKAGES+=("${BENCH_PACKAGES[@]}") ;;
    *) echo "usage: $0 [--bench]" >&2; exit 2 ;;
esac
# A JRE is needed to run ZooKeeper; only install one when there is no java.
if ! command -v java >/dev/null 2>&1; then
    PACKAGES+=(default-jre-headless)
fi

is_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: apt-get not found; install these by hand: ${missing[*]}" >&2
    exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "install-deps: not root and no sudo; install as root: ${missing[*]}" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
# --no-install-recommends keeps zookeeperd and other services out.
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"

if [[ " ${missing[*]} " == *" nats-server "* ]] && [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl disable --now nats-server.service 2>/dev/null || true
fi
