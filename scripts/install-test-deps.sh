#!/usr/bin/env bash
# Installs the Debian packages the end-to-end tests need (make test runs
# this). Idempotent: when everything is there it only asks dpkg-query, so a
# warm machine spends about no time here. Runs as root (CI) or with sudo.
#
#   xrdp, ssl-cert   real RDP servers (ssl-cert, a dependency of xrdp, makes its
#                    default key pair; the test brings its own certificate)
#   freerdp2-x11     the real RDP client, xfreerdp
#   xvfb, xauth      a virtual X display for xfreerdp (xvfb-run needs xauth,
#                    which is only a Recommends of xvfb)
#
# --no-install-recommends: the Recommends left out are xorgxrdp (an Xorg
# server for xrdp sessions), fuse (drive redirection) and, through xvfb and
# xserver-common, xfonts-* and a full Xorg/systemd stack. The tests run no
# xrdp session, and Xvfb starts on its built-in fonts (its default font path
# ends with "built-ins"), so xvfb-run + xfreerdp +auth-only work without them.
set -euo pipefail

# xrdp + FreeRDP: the real RDP end-to-end test. samba-ad-dc & co: the real
# Active Directory domain controller of the directory tests
# (scripts/samba-ad-fixture.sh); ldap-utils for its population.
# haproxy: the import test runs HAProxy 2.6 on the seed's configuration.
# prometheus: promtool checks real scrapes of /metrics. chromium: the status
# page is rendered in headless Chromium.
PKGS=(xrdp freerdp2-x11 xvfb xauth ssl-cert samba-ad-dc samba-ad-provision ldap-utils ldb-tools openssl
	haproxy prometheus chromium)

. "$(dirname "$0")/apt-install.sh"
apt_install install-test-deps "${PKGS[@]}"

# The xrdp package starts the system xrdp and xrdp-sesman daemons when it is
# installed (invoke-rc.d, no systemd here). They would hold 3389/3350, and
# while /run/xrdp/xrdp.pid exists any other xrdp, even `xrdp --nodaemon -c
# FILE` as the tests run it, refuses to start ("It looks like xrdp is already
# running"). Stop them. Not with /etc/init.d/xrdp stop: it kills every
# /usr/sbin/xrdp, the test instances of a concurrent `go test` included.
# Daemons never run with --nodaemon; the test instances always do. The pid
# file alone is not enough: the daemon writes it one second after it forks.
# (An xrdp killed during that second never writes it.)
daemon_pids() {
	# /proc, not pgrep: procps is not in a minimal Debian image.
	local name=$1 d comm args
	for d in /proc/[0-9]*; do
		read -r comm <"$d/comm" 2>/dev/null || continue
		[[ $comm == "$name" ]] || continue
		args=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue # gone meanwhile
		[[ -n $args ]] || continue                                   # a zombie
		case " $args " in
		*" --nodaemon "* | *" -n "* | *" -nodaemon "*) ;; # a foreground xrdp: not the daemon
		*) echo "${d#/proc/}" ;;
		esac
	done
}

for name in xrdp xrdp-sesman; do
	pids=$(daemon_pids "$name")
	if [[ -n $pids ]]; then
		echo "install-test-deps: stopping the system $name daemon (pids" $pids")" >&2
		# shellcheck disable=SC2086
		"${SUDO[@]}" kill -TERM $pids 2>/dev/null || true
		for _ in $(seq 50); do # up to 5 s
			[[ -z $(daemon_pids "$name") ]] && break
			sleep 0.1
		done
		pids=$(daemon_pids "$name")
		# shellcheck disable=SC2086
		[[ -z $pids ]] || "${SUDO[@]}" kill -KILL $pids 2>/dev/null || true
	fi
	# A pid file left by a killed daemon, or by one that was never cleaned up.
	for f in "/run/xrdp/$name.pid" "/var/run/xrdp/$name.pid"; do
		if [[ -e $f ]]; then
			echo "install-test-deps: removing stale $f" >&2
			"${SUDO[@]}" rm -f "$f"
		fi
	done
done
