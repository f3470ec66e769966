#!/usr/bin/env bash
# Installs the Debian packages the package test (packaging/package_test.go)
# needs. Idempotent: when everything is there it only asks dpkg-query. Runs
# as root (CI) or with sudo.
#
#   debootstrap   the throwaway Debian root the .deb is installed into
#   lintian       checks the .deb
#   rpm           rpm --root installs the .rpm, rpm -qp queries it
#   rpmlint       checks the .rpm
#   keepalived    keepalived -t checks the HA pair example
#   systemd       systemd-analyze verify / security --offline on the unit
#   curl          the example's track_script (keepalived -t wants it present)
#   fakeroot      lintian runs as non-root helper tools through it
#
# keepalived's own service is never started here (apt-install.sh puts a
# policy-rc.d that denies it in place while installing).
set -euo pipefail

PKGS=(debootstrap lintian rpm rpmlint keepalived systemd curl)

. "$(dirname "$0")/apt-install.sh"
apt_install install-package-deps "${PKGS[@]}"
