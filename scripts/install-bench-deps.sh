#!/usr/bin/env bash
# Installs what `make bench` needs besides Go: HAProxy 2.6 from Debian, the
# anchor rdpbroker is measured against, and OpenLDAP slapd, the stand-in
# for a large Active Directory in the directory sync benchmark.
# Idempotent; root or sudo. No daemon is started (a policy-rc.d denies it
# while installing); the benchmarks run their own HAProxy and slapd in the
# foreground on free loopback ports.
set -euo pipefail
PKGS=(haproxy slapd)
SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
missing=()
for p in "${PKGS[@]}"; do
	[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "install-bench-deps: installing ${missing[*]}" >&2
	apt_get=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -q)
	added_policy=0
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
		"${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
		added_policy=1
		trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	"${apt_get[@]}" update
	"${apt_get[@]}" install -y --no-install-recommends "${missing[@]}"
	if ((added_policy)); then
		"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
		trap - EXIT
	fi
fi
