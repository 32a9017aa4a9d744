#!/usr/bin/env bash
#
# tests/package/test_deb.sh — the gregor Debian package, built and checked
# for real (ctest package_deb).
#
#   GREGOR_SOURCE_DIR=. GREGOR_BUILD_DIR=build tests/package/test_deb.sh
#
# 1. deploy/debian/build-deb.sh packages $GREGOR_BUILD_DIR/bin; the package
#    holds the binaries, the conffile, the unit, /var/lib/gregor, and
#    Depends: (dpkg-shlibdeps) names the runtime libraries.
# 2. lintian reports no error and no warning (the info tags it still prints
#    are explained in docs/deploy.md).
# 3. systemd-analyze verify accepts the unit without a warning (inside the
#    unpacked package, so its ExecStart exists).
# 4. Install test in a throwaway root: an unprivileged container whose pid 1
#    is systemd, from a Debian bookworm base made locally (make image's
#    gregor-base:bookworm with systemd added, or else mmdebstrap with
#    systemd and docker import; cached as the image
#    gregor-debtest-base:bookworm-systemd). `apt-get install ./gregor_*.deb`
#    pulls the dependencies from the Debian mirror; then: the gregor system
#    user, the files and their owners, --help/--version, the service neither
#    enabled nor started; with zookeeper.connect pointed at a ZooKeeper this
#    script runs on the host (deploy/zk-run.sh): `systemctl start` and the
#    broker answers Metadata (kcat from the host) as gregor, with the unit's
#    file limit and its data in /var/lib/gregor/data; a SIGKILL is restarted
#    (Restart=on-failure); `systemctl stop` is a controlled shutdown with
#    status 0; a bad key fails it with status 2 and no restart loop; a
#    reinstall keeps the edited conffile and the user and
#    restarts the broker; `apt-get remove` stops it and keeps the conffile
#    and the data; `apt-get purge` removes them and the enable link.
#    Where systemd cannot boot in a container ("# SKIP systemd part"), the
#    broker is started by hand with the unit's user and command line and
#    stopped with SIGTERM. Without a Docker engine, mmdebstrap or a
#    reachable mirror, part 4 is skipped and a "# SKIP install test: why"
#    line says so; parts 1-3 run.
#
# Prints one "ok -" / "not ok -" line per check and "N passed, M failed".
# Exit status 0 when every check passed. The checks are eval'd strings:
# shellcheck disable=SC2016
set -u

src=${GREGOR_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${GREGOR_BUILD_DIR:-$src/build}
base_image=gregor-debtest-base:bookworm-systemd
pass=0
fail=0
tmp=$(mktemp -d)
container=""
zk_pid=""
cleanup() {
    [ -n "$container" ] && docker rm -f "$container" >/dev/null 2>&1
    if [ -n "$zk_pid" ]; then
        kill "$zk_pid" 2>/dev/null
        wait "$zk_pid" 2>/dev/null
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() {
    fail=$((fail + 1))
    echo "not ok - $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/#   /' | head -30
    return 0
}
# check DESCRIPTION SHELL-CODE: passes when the code succeeds; its output
# is shown on failure.
check() {
    local out
    if out=$(eval "$2" 2>&1); then ok "$1"; else not_ok "$1" "$out"; fi
}
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit $?
}
# in_c COMMAND...: run in the container.
in_c() { docker exec "$container" "$@"; }
# wait_for SECONDS SHELL-CODE: polls every 0.5 s until the code succeeds.
wait_for() {
    local deadline=$((SECONDS + $1))
    while ! eval "$2" >/dev/null 2>&1; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.5
    done
}

# ---- 1. build -------------------------------------------------------------
if ! deb=$("$src/deploy/debian/build-deb.sh" "$build/bin" "$tmp" 2>"$tmp/build.err" | tail -n 1) ||
    [ ! -f "$deb" ]; then
    not_ok "build-deb.sh builds the package" "$(cat "$tmp/build.err")"
    finish
fi
ok "build-deb.sh builds $(basename "$deb")"
version=$("$build/bin/gregor-broker" --version | awk '{print $2}')
dpkg-deb --info "$deb" >"$tmp/info"
dpkg-deb --contents "$deb" >"$tmp/contents"
for f in ./usr/sbin/gregor-broker ./usr/bin/gregor ./etc/gregor/server.properties \
    ./lib/systemd/system/gregor-broker.service ./var/lib/gregor/ \
    ./usr/share/doc/gregor/copyright ./usr/share/man/man8/gregor-broker.8.gz; do
    check "package holds $f" "grep -q ' $f\$' '$tmp/contents'"
done
check "Version is gregor-broker --version ($version)" \
    "grep -qx ' Version: $version' '$tmp/info'"
for lib in libc6 libevent-core libzookeeper-mt2 librdkafka1 libprotobuf-c1 libzstd1 adduser; do
    check "Depends names $lib" "grep '^ Depends:' '$tmp/info' | grep -q '$lib'"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$tmp/conffiles"
check "/etc/gregor/server.properties is a conffile" \
    "grep -qx /etc/gregor/server.properties '$tmp/conffiles'"
mkdir "$tmp/root"
dpkg-deb -x "$deb" "$tmp/root"
check "packaged config keeps data in /var/lib/gregor/data" \
    "grep -qx 'log.dirs=/var/lib/gregor/data' '$tmp/root/etc/gregor/server.properties'"
check "binaries are stripped" \
    "! file '$tmp/root/usr/sbin/gregor-broker' '$tmp/root/usr/bin/gregor' | grep -q 'not stripped'"

# ---- 2. lintian -------------------------------------------------------------
if command -v lintian >/dev/null; then
    lintian --no-cfg --display-level '>=info' "$deb" >"$tmp/lintian" 2>&1
    check "lintian: no error or warning" "! grep -E '^[EW]: ' '$tmp/lintian'"
    sed 's/^/# lintian: /' "$tmp/lintian"
else
    not_ok "lintian is installed (deploy/install-deps.sh)"
fi

# ---- 3. systemd-analyze verify ---------------------------------------------------
unit=$tmp/root/lib/systemd/system/gregor-broker.service
check "unit: User=gregor, LimitNOFILE, Restart=on-failure, TimeoutStopSec, ExecStart with the config" \
    "grep -qx User=gregor '$unit' && grep -q '^LimitNOFILE=[0-9]\{5,\}' '$unit' &&
     grep -qx Restart=on-failure '$unit' && grep -q '^TimeoutStopSec=[0-9]' '$unit' &&
     grep -qx 'ExecStart=/usr/sbin/gregor-broker /etc/gregor/server.properties' '$unit'"
# verify --root resolves the unit's dependencies (sysinit.target, ...) and its
# ExecStart inside the root: the host's units under the package's files.
# It exits 0 on a bad directive and only warns, so any output fails.
mkdir -p "$tmp/vroot/lib/systemd"
cp -a /lib/systemd/system "$tmp/vroot/lib/systemd/"
dpkg-deb -x "$deb" "$tmp/vroot"
check "systemd-analyze verify accepts the unit, with no warning" \
    "out=\$(systemd-analyze verify --man=no --root='$tmp/vroot' \
        /lib/systemd/system/gregor-broker.service 2>&1) && [ -z \"\$out\" ] || { echo \"\$out\"; false; }"

# ---- 4. install, run, remove, purge in a container --------------------------------
skip() {
    echo "# SKIP install test: $1"
    finish
}
docker info >/dev/null 2>&1 || skip "no Docker engine answers (docker info)"
command -v kcat >/dev/null || skip "kcat missing"
# The image is made once: from make image's base (gregor-base:bookworm, which
# the compose stage of make test builds before the full suite runs) with
# systemd added, else with mmdebstrap. The base's dpkg filter (no man pages)
# is dropped so the package installs as on a host.
if ! docker image inspect "$base_image" >/dev/null 2>&1 &&
   docker image inspect gregor-base:bookworm >/dev/null 2>&1; then
    echo "# making $base_image from gregor-base:bookworm (once)"
    printf '%s\n' 'FROM gregor-base:bookworm' \
        'RUN rm -f /etc/dpkg/dpkg.cfg.d/99mmdebstrap && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd' |
        timeout 300 docker build -q -t "$base_image" - >"$tmp/derive.log" 2>&1 ||
        { tail -n 5 "$tmp/derive.log" | sed 's/^/#   /'; echo "# (falling back to mmdebstrap)"; }
fi
if ! docker image inspect "$base_image" >/dev/null 2>&1; then
    command -v mmdebstrap >/dev/null || skip "mmdebstrap missing and no $base_image image"
    echo "# making $base_image with mmdebstrap (once)"
    if ! timeout 300 mmdebstrap --variant=minbase --include=systemd --skip=cleanup/apt/lists bookworm \
        "$tmp/base.tar" "deb http://deb.debian.org/debian bookworm main" \
        "deb http://deb.debian.org/debian bookworm-updates main" \
        "deb http://deb.debian.org/debian-security bookworm-security main" \
        >"$tmp/mmdebstrap.log" 2>&1; then
        tail -n 5 "$tmp/mmdebstrap.log" | sed 's/^/#   /'
        skip "mmdebstrap could not make a bookworm root (no mirror reachable?)"
    fi
    docker import "$tmp/base.tar" "$base_image" >/dev/null
    rm -f "$tmp/base.tar"
fi

gw=$(ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
[ -n "$gw" ] || skip "no docker0 bridge address for the container to reach ZooKeeper"
zk_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
ZK_BIND=$gw "$src/deploy/zk-run.sh" "$tmp/zk" "$zk_port" >"$tmp/zk.log" 2>&1 &
zk_pid=$!

container=gregor-debtest-$$
# systemd as pid 1 of an unprivileged container (/run on tmpfs, the host's
# cgroups read-only), so the unit runs as on a host; where it cannot boot,
# the broker is started by hand with the unit's user and command line.
booted() { in_c systemctl is-system-running 2>/dev/null | grep -qE '^(running|degraded)$'; }
running() { [ "$(docker inspect -f '{{.State.Running}}' "$container" 2>/dev/null)" = true ]; }
sd=0
if docker run -d --name "$container" --tmpfs /run --tmpfs /run/lock \
    -v /sys/fs/cgroup:/sys/fs/cgroup:ro "$base_image" /lib/systemd/systemd >/dev/null 2>&1 &&
    wait_for 60 'booted || ! running' && booted; then
    sd=1
else
    echo "# SKIP systemd part: systemd does not boot in a container here;" \
         "the broker is started by hand as the unit starts it"
    docker logs "$container" 2>&1 | tail -n 5 | sed 's/^/#   /'
    docker rm -f "$container" >/dev/null 2>&1
    docker run -d --name "$container" "$base_image" sleep 900 >/dev/null
fi
docker cp "$deb" "$container:/tmp/gregor.deb"
if ! in_c sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q /tmp/gregor.deb' \
    >"$tmp/install.log" 2>&1; then
    if grep -q -E 'Temporary failure resolving|Could not connect|Unable to connect' "$tmp/install.log"; then
        skip "the container cannot reach the Debian mirror"
    fi
    not_ok "apt-get install ./gregor.deb" "$(tail -n 20 "$tmp/install.log")"
    finish
fi
ok "apt-get install ./gregor.deb (dependencies from the mirror)"
check "gregor is a system user with no login shell, home /var/lib/gregor" \
    "in_c getent passwd gregor | awk -F: '\$3 < 1000 && \$6 == \"/var/lib/gregor\" && \$7 == \"/usr/sbin/nologin\"' | grep -q ."
check "/var/lib/gregor belongs to gregor, mode 750" \
    "[ \"\$(in_c stat -c '%U:%G %a' /var/lib/gregor)\" = 'gregor:gregor 750' ]"
check "/etc/gregor/server.properties is root:gregor, mode 640" \
    "[ \"\$(in_c stat -c '%U:%G %a' /etc/gregor/server.properties)\" = 'root:gregor 640' ]"
check "gregor-broker --version" "in_c gregor-broker --version | grep -qx 'gregor-broker $version'"
check "gregor-broker --help" "in_c gregor-broker --help | grep -q '^usage: gregor-broker'"
check "gregor --version" "in_c gregor --version | grep -q '^gregor $version'"
check "man gregor-broker page installed" "in_c test -s /usr/share/man/man8/gregor-broker.8.gz"
if [ $sd = 1 ]; then
    check "the install neither enables nor starts the service" \
        "[ \"\$(in_c systemctl is-enabled gregor-broker)\" = disabled ] &&
         ! in_c systemctl is-active -q gregor-broker"
fi

# The operator's one edit: zookeeper.connect (the ZooKeeper on the host,
# through the bridge).
in_c sed -i "s|^zookeeper.connect=.*|zookeeper.connect=$gw:$zk_port|" /etc/gregor/server.properties
wait_for 60 "echo ruok | timeout 2 bash -c 'exec 3<>/dev/tcp/$gw/$zk_port; cat >&3; cat <&3' | grep -q imok" ||
    not_ok "ZooKeeper answers on $gw:$zk_port" "$(tail -n 20 "$tmp/zk.log")"
cip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$container")
answers() { timeout 10 kcat -b "$cip:9092" -L -m 5 2>/dev/null | grep -q 'broker 0 at localhost:9092'; }
main_pid() { in_c systemctl show -p MainPID --value gregor-broker; }
broker_log() {
    if [ $sd = 1 ]; then in_c journalctl -u gregor-broker --no-pager; else in_c cat /tmp/broker.log; fi
}

if [ $sd = 1 ]; then
    check "systemctl start gregor-broker" "in_c systemctl start gregor-broker"
else
    # sh stays as the broker's parent to record its exit status.
    docker exec -d "$container" sh -c 'setpriv --reuid=gregor --regid=gregor --init-groups \
        /usr/sbin/gregor-broker /etc/gregor/server.properties 2>/tmp/broker.log &
        echo $! >/tmp/broker.pid; wait $!; echo $? >/tmp/broker.rc'
fi
if wait_for 90 answers; then
    ok "the packaged broker answers Metadata on :9092 (kcat from the host)"
else
    not_ok "the packaged broker answers Metadata on :9092" "$(broker_log | tail -n 20)"
fi
if [ $sd = 1 ]; then pid=$(main_pid); else pid=$(in_c cat /tmp/broker.pid); fi
check "the broker runs as gregor" "[ \"\$(in_c stat -c %U /proc/$pid)\" = gregor ]"
check "its data is in /var/lib/gregor/data, owned by gregor" \
    "[ \"\$(in_c stat -c %U /var/lib/gregor/data/meta.properties)\" = gregor ]"
if [ $sd = 1 ]; then
    # A container cannot raise its own hard limit: the unit's 100000 is
    # capped there (on a host, systemd's hard limit is far higher).
    hard=$(in_c sh -c 'ulimit -Hn')
    want=$((hard < 100000 ? hard : 100000))
    check "LimitNOFILE: the broker may open $want files" \
        "in_c grep '^Max open files' /proc/$pid/limits | awk '{exit !(\$4 == $want)}'"
    in_c systemctl kill --signal=SIGKILL gregor-broker
    check "Restart=on-failure: SIGKILLed, the broker is back within 60 s" \
        "wait_for 60 '[ \"\$(main_pid)\" != 0 ] && [ \"\$(main_pid)\" != $pid ] && answers'"
    check "systemctl stop: a controlled shutdown, exit status 0" \
        "in_c systemctl stop gregor-broker &&
         [ \"\$(in_c systemctl show -p Result --value gregor-broker)\" = success ] &&
         [ \"\$(in_c systemctl show -p ExecMainStatus --value gregor-broker)\" = 0 ] &&
         broker_log | grep -q 'controlled shutdown done'"
    # A bad key: exit status 2, and no restart loop (RestartPreventExitStatus).
    in_c sh -c 'cp /etc/gregor/server.properties /tmp/good.properties &&
        echo no.such.key=1 >>/etc/gregor/server.properties && systemctl start gregor-broker'
    check "a bad configuration fails the service with status 2 and is not restarted" \
        "wait_for 30 '[ \"\$(in_c systemctl show -p ActiveState --value gregor-broker)\" = failed ]' &&
         sleep 7 && [ \"\$(in_c systemctl show -p ActiveState --value gregor-broker)\" = failed ] &&
         [ \"\$(in_c systemctl show -p ExecMainStatus --value gregor-broker)\" = 2 ] &&
         [ \"\$(in_c systemctl show -p NRestarts --value gregor-broker)\" = 0 ]"
    in_c sh -c 'cp /tmp/good.properties /etc/gregor/server.properties &&
        systemctl reset-failed gregor-broker'
    in_c systemctl enable -q gregor-broker
    in_c systemctl start gregor-broker
    wait_for 60 answers
    pid=$(main_pid)
else
    in_c sh -c 'kill -TERM "$(cat /tmp/broker.pid)"'
    check "SIGTERM: the broker exits with status 0 within 60 s" \
        "wait_for 60 'in_c test -s /tmp/broker.rc' && [ \"\$(in_c cat /tmp/broker.rc)\" = 0 ]"
    check "SIGTERM: controlled shutdown logged" "broker_log | grep -q 'controlled shutdown done'"
fi

uid=$(in_c id -u gregor)
check "reinstalling over itself (postinst again) succeeds" \
    "in_c sh -c 'DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/gregor.deb'"
check "... keeps the edited conffile, the user and the data" \
    "in_c grep -qx 'zookeeper.connect=$gw:$zk_port' /etc/gregor/server.properties &&
     [ \"\$(in_c id -u gregor)\" = '$uid' ] && in_c test -f /var/lib/gregor/data/meta.properties"
if [ $sd = 1 ]; then
    check "... and restarts the running broker" \
        "wait_for 60 '[ \"\$(main_pid)\" != 0 ] && [ \"\$(main_pid)\" != $pid ] && answers'"
fi

in_c sh -c 'DEBIAN_FRONTEND=noninteractive apt-get remove -y -q gregor' >"$tmp/remove.log" 2>&1
check "apt-get remove: binaries and unit gone" \
    "! in_c test -e /usr/sbin/gregor-broker && ! in_c test -e /usr/bin/gregor &&
     ! in_c test -e /lib/systemd/system/gregor-broker.service"
check "apt-get remove: no broker left running" \
    "! in_c sh -c 'grep -qx gregor-broker /proc/[0-9]*/comm'"
check "apt-get remove: conffile and data kept (state config-files)" \
    "in_c test -f /etc/gregor/server.properties && in_c test -f /var/lib/gregor/data/meta.properties &&
     [ \"\$(in_c dpkg-query -W -f='\${Status}' gregor)\" = 'deinstall ok config-files' ]"
in_c sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q gregor' >>"$tmp/remove.log" 2>&1
check "apt-get purge: /etc/gregor, /var/lib/gregor and the enable link gone, package unknown to dpkg" \
    "! in_c test -e /etc/gregor && ! in_c test -e /var/lib/gregor &&
     ! in_c test -L /etc/systemd/system/multi-user.target.wants/gregor-broker.service &&
     ! in_c dpkg-query -W -f='\${Status}' gregor 2>/dev/null | grep -q installed"
check "remove and purge printed no error" "! grep -i -E '^(E:|dpkg: error|.*warning)' '$tmp/remove.log'"
finish
