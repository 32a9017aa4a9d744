#!/usr/bin/env bash
# deploy/docker/build-images.sh — `make image`: build the `gregor` and
# `gregor-zookeeper` images without any image registry.
#
# 1. The base gregor-base:bookworm, once: mmdebstrap --variant=minbase of
#    Debian bookworm (main, updates, security) into a tarball, then
#    `docker import`. Man pages, docs and locales are left out as in
#    debian:bookworm-slim. Kept across runs; GREGOR_REBUILD_BASE=1 redoes it.
# 2. deploy/docker/gregor.Dockerfile and zookeeper.Dockerfile with
#    BASE_IMAGE=gregor-base:bookworm, in parallel; Docker's layer cache makes
#    a rebuild after a source change recompile only (packages stay cached).
#
# With GREGOR_MONITORING=1 it also builds `gregor-prometheus`
# (prometheus.Dockerfile), the image of the compose file's `monitoring` profile.
#
# Environment: GREGOR_BASE_IMAGE (default gregor-base:bookworm; set it to
# debian:bookworm-slim on a machine that can pull), DEBIAN_MIRROR (default
# http://deb.debian.org/debian), GREGOR_IMAGE_TAG (default latest).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
base=${GREGOR_BASE_IMAGE:-gregor-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
tag=${GREGOR_IMAGE_TAG:-latest}

if ! docker info >/dev/null 2>&1; then
    echo "build-images: no Docker engine answers (docker info failed)" >&2
    exit 1
fi

t0=$(date +%s)
if [ "$base" = gregor-base:bookworm ] &&
   { [ "${GREGOR_REBUILD_BASE:-0}" = 1 ] || ! docker image inspect "$base" >/dev/null 2>&1; }; then
    if ! command -v mmdebstrap >/dev/null 2>&1; then
        echo "build-images: mmdebstrap missing (deploy/install-deps.sh installs it)" >&2
        exit 1
    fi
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    security=${mirror%/debian}/debian-security
    echo "build-images: building $base with mmdebstrap from $mirror"
    # The merged-usr hook lays out merged /usr itself, as debootstrap does,
    # instead of installing usrmerge (which pulls in perl).
    mmdebstrap --variant=minbase --mode=root --quiet \
        --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        bookworm "$tmp/base.tar" \
        "deb $mirror bookworm main" \
        "deb $mirror bookworm-updates main" \
        "deb $security bookworm-security main" >/dev/null
    docker import --change 'CMD ["bash"]' "$tmp/base.tar" "$base" >/dev/null
    rm -rf "$tmp"
    trap - EXIT
fi
t1=$(date +%s)

# Both images at once: the broker's build stage is mostly compiling, the
# ZooKeeper image mostly downloading and unpacking. Each build's log is
# printed only when it fails.
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
build() { # NAME DOCKERFILE
    docker build --build-arg BASE_IMAGE="$base" -t "$1:$tag" \
        -f "$root/deploy/docker/$2" "$root" >"$logs/$1.log" 2>&1
}
echo "build-images: building gregor:$tag and gregor-zookeeper:$tag"
build gregor gregor.Dockerfile &
p1=$!
build gregor-zookeeper zookeeper.Dockerfile &
p2=$!
jobs_=("$p1:gregor" "$p2:gregor-zookeeper")
if [ "${GREGOR_MONITORING:-0}" = 1 ]; then
    echo "build-images: building gregor-prometheus:$tag"
    build gregor-prometheus prometheus.Dockerfile &
    jobs_+=("$!:gregor-prometheus")
fi
rc=0
for p in "${jobs_[@]}"; do
    if ! wait "${p%%:*}"; then
        echo "build-images: building ${p#*:}:$tag failed:" >&2
        tail -n 40 "$logs/${p#*:}.log" >&2
        rc=1
    fi
done
[ $rc = 0 ] || exit 1
t2=$(date +%s)

echo "build-images: base $((t1 - t0)) s, images $((t2 - t1)) s"
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' |
    grep -E "^(gregor|gregor-zookeeper|gregor-prometheus):$tag |^${base} " | sed 's/^/  /' || true
