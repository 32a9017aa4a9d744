/*
 * common/version.h — Gregor's release version, one place for every program:
 * `gregor-broker --version`, `gregor --version`, and the Debian package
 * (deploy/debian/build-deb.sh takes the package version from the broker's
 * --version output).
 */
#ifndef GREGOR_COMMON_VERSION_H
#define GREGOR_COMMON_VERSION_H

#define GREGOR_VERSION "0.1.0"

#endif
