// Package packaging holds no code: it is the home of the deb and rpm
// packages (nfpm.yaml, the systemd unit, the default configuration, the
// maintainer scripts, the man page, the keepalived example) and of their
// test, which builds both packages and installs them into throwaway Debian
// roots:
//
//	make deb rpm                      # bin/rdpbroker_VERSION-1_amd64.deb, bin/rdpbroker-VERSION-1.x86_64.rpm
//	go test -count=1 ./packaging      # root + scripts/install-package-deps.sh
//
// See README.md in this directory.
package packaging
