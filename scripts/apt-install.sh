# apt-install.sh: sourced by the install-*-deps.sh scripts.
#   apt_install TAG PKG...   installs the PKGs not installed yet (idempotent)
# Root or sudo (SUDO is set here for the caller's use too). Maintainer
# scripts start no daemon: a policy-rc.d that denies all is in place while
# installing, only if the machine has none (smbd, slapd, xrdp would listen).
# A fresh cloud machine may be running apt-daily: the dpkg lock is waited
# for LOCK_TIMEOUT seconds, each apt-get call bounded by APT_TIMEOUT.

APT_TIMEOUT=${APT_TIMEOUT:-900}
LOCK_TIMEOUT=${LOCK_TIMEOUT:-120}

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || {
		echo "apt-install: not root and no sudo" >&2
		exit 1
	}
	SUDO=(sudo)
fi

apt_install() {
	local tag=$1 p missing=()
	shift
	for p in "$@"; do
		[[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	echo "$tag: installing ${missing[*]}" >&2
	local apt_get=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive timeout "$APT_TIMEOUT" apt-get -q
		-o DPkg::Lock::Timeout="$LOCK_TIMEOUT")
	local added_policy=0
	if [[ ! -e /usr/sbin/policy-rc.d ]]; then
		printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
		"${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
		added_policy=1
		trap '"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	"${apt_get[@]}" update
	"${apt_get[@]}" install -y --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"${missing[@]}"
	if ((added_policy)); then
		"${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
		trap - EXIT
	fi
}
