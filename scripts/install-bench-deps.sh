#!/usr/bin/env bash
# Installs what `make bench` needs besides Go: HAProxy 2.6 from Debian, the
# anchor rdpbroker is measured against. Idempotent; root or sudo. The
# package starts no daemon here (no systemd); the benchmark runs its own
# HAProxy in the foreground on a free loopback port.
set -euo pipefail
PKGS=(haproxy)
SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
missing=()
for p in "${PKGS[@]}"; do
	[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "install-bench-deps: installing ${missing[*]}" >&2
	apt_get=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get -q)
	"${apt_get[@]}" update
	"${apt_get[@]}" install -y --no-install-recommends "${missing[@]}"
fi
