#!/usr/bin/env bash
# Installs what `make bench` needs besides Go: HAProxy 2.6 from Debian, the
# anchor rdpbroker is measured against, and OpenLDAP slapd, the stand-in
# for a large Active Directory in the directory sync benchmark, and strace,
# which counts the system calls per connection of each proxy.
# Idempotent; root or sudo. No daemon is started (a policy-rc.d denies it
# while installing); the benchmarks run their own HAProxy and slapd in the
# foreground on free loopback ports.
set -euo pipefail
. "$(dirname "$0")/apt-install.sh"
apt_install install-bench-deps haproxy slapd strace
