#!/usr/bin/env bash
# deploy/debian/build-deb.sh — build the `gregor` Debian package with
# dpkg-deb from already built binaries (`make deb` builds them first).
#
#   build-deb.sh BIN_DIR OUT_DIR
#
# BIN_DIR holds gregor-broker and gregor; the package version is what
# `gregor-broker --version` prints, and must match the top entry of
# deploy/debian/changelog. Writes OUT_DIR/gregor_<version>_<arch>.deb and
# prints its path on the last line. Depends: is computed by dpkg-shlibdeps
# from the binaries. The package holds:
#   /usr/sbin/gregor-broker, /usr/bin/gregor (stripped), their man pages,
#   /etc/gregor/server.properties (conffile: deploy/config/server.properties
#     with log.dirs=/var/lib/gregor/data),
#   /lib/systemd/system/gregor-broker.service and gregor-mirror@.service
#     (deploy/systemd/),
#   /var/lib/gregor (given to the gregor user by postinst),
#   /usr/share/doc/gregor/{copyright,changelog.gz}.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 BIN_DIR OUT_DIR" >&2
    exit 2
fi
bin=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

for tool in dpkg-deb dpkg-shlibdeps strip gzip; do
    command -v "$tool" >/dev/null || {
        echo "build-deb: $tool not found (deploy/install-deps.sh installs it)" >&2
        exit 1
    }
done
for b in gregor-broker gregor; do
    [ -x "$bin/$b" ] || { echo "build-deb: $bin/$b missing (build first)" >&2; exit 1; }
done

version=$("$bin/gregor-broker" --version | awk '{print $2}')
changelog_version=$(sed -n '1s/^gregor (\([^)]*\)).*/\1/p' "$here/changelog")
if [ "$version" != "$changelog_version" ]; then
    echo "build-deb: gregor-broker --version says '$version' but deploy/debian/changelog" \
         "starts with '$changelog_version'; add a changelog entry" >&2
    exit 1
fi
arch=$(dpkg --print-architecture)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/gregor
install -d -m 0755 "$root/DEBIAN" "$root/usr/sbin" "$root/usr/bin" "$root/etc/gregor" \
    "$root/lib/systemd/system" "$root/var/lib/gregor" "$root/usr/share/doc/gregor" \
    "$root/usr/share/man/man1" "$root/usr/share/man/man8"

install -m 0755 "$bin/gregor-broker" "$root/usr/sbin/gregor-broker"
install -m 0755 "$bin/gregor" "$root/usr/bin/gregor"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$root/usr/sbin/gregor-broker" "$root/usr/bin/gregor"

# The packaged configuration: the repository's file with the data under
# /var/lib/gregor instead of /tmp, and a header saying where it lives.
conf=$root/etc/gregor/server.properties
{
    echo "# /etc/gregor/server.properties — read by gregor-broker.service (Debian package"
    echo "# gregor). Set broker.id, zookeeper.connect and advertised.listeners for this"
    echo "# host, then: systemctl enable --now gregor-broker. Logs go to the journal"
    echo "# (journalctl -u gregor-broker)."
    echo "#"
    sed 's|^log\.dirs=/tmp/gregor-logs$|log.dirs=/var/lib/gregor/data|' \
        "$src/deploy/config/server.properties"
} >"$conf"
chmod 0644 "$conf"
if ! grep -qx 'log.dirs=/var/lib/gregor/data' "$conf"; then
    echo "build-deb: deploy/config/server.properties no longer has log.dirs=/tmp/gregor-logs;" \
         "update the substitution in $0" >&2
    exit 1
fi
echo /etc/gregor/server.properties >"$root/DEBIAN/conffiles"

install -m 0644 "$src/deploy/systemd/gregor-broker.service" "$root/lib/systemd/system/"
install -m 0644 "$src/deploy/systemd/gregor-mirror@.service" "$root/lib/systemd/system/"
install -m 0644 "$here/copyright" "$root/usr/share/doc/gregor/copyright"
gzip -9n <"$here/changelog" >"$root/usr/share/doc/gregor/changelog.gz"
gzip -9n <"$here/gregor.1" >"$root/usr/share/man/man1/gregor.1.gz"
gzip -9n <"$here/gregor-broker.8" >"$root/usr/share/man/man8/gregor-broker.8.gz"
chmod 0644 "$root"/usr/share/doc/gregor/* "$root"/usr/share/man/man*/*
for script in postinst prerm postrm; do
    install -m 0755 "$here/$script" "$root/DEBIAN/$script"
done

# dpkg-shlibdeps wants a debian/control naming the package it works for.
mkdir -p "$work/debian"
printf 'Source: gregor\n\nPackage: gregor\nArchitecture: any\n' >"$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O -e"$root/usr/sbin/gregor-broker" \
    -e"$root/usr/bin/gregor" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
if [ -z "$shlibs" ]; then
    echo "build-deb: dpkg-shlibdeps found no dependencies" >&2
    exit 1
fi

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" \
    -e "s|@SHLIBS@|$shlibs|" "$here/control.in" >"$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
    xargs -0 md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

deb=$out/gregor_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
