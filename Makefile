# rdpbroker. The two commands a newcomer needs:
#   make demo   the broker on an embedded demo config with local fake RDP servers
#   make test   every test: unit, fuzz seeds, in-process end-to-end, and the
#               real FreeRDP -> broker -> xrdp test (installs its Debian packages)

SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin
FUZZTIME ?= 30s
DEMO_LISTEN ?= 127.0.0.1:13389

.PHONY: all build test unit test-deps demo fuzz bench vet clean deb rpm pkg-stage e2e

all: build

build:
	$(GO) build -o $(BIN)/rdpbroker ./cmd/rdpbroker

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test-deps:
	scripts/install-test-deps.sh
	scripts/install-package-deps.sh

# unit: fast tests only (no Debian packages needed).
unit:
	$(GO) test -race -count=1 ./...

# test: the library packages under the race detector; then the real-binary
# suites (cmd/rdpbroker: the broker built as it ships, real xrdp, Samba AD,
# HAProxy, the upgrade, the whole scenario) and the package install test,
# without it: a race-built broker makes those suites several times slower
# (the 220-session upgrade test took 271 s instead of ~20 s).
RACE_PKGS = $$($(GO) list ./... | grep -v -e '/cmd/rdpbroker$$' -e '/packaging$$')
test: test-deps vet
	RDPBROKER_E2E_REAL=1 $(GO) test -race -count=1 -timeout 15m $(RACE_PKGS)
	RDPBROKER_E2E_REAL=1 $(GO) test -count=1 -timeout 20m ./cmd/rdpbroker ./packaging

# e2e: only the administrator's scenario (docs/scenario.md): Samba AD, four
# xrdp, two peered brokers, xfreerdp; ~3-4 min. -v: each step and its time
# are shown, and so is why it skips (not root, a package missing). make test
# runs it already with every other test: test does not depend on e2e.
e2e: test-deps
	RDPBROKER_E2E_REAL=1 $(GO) test -v -count=1 -timeout 15m -run TestScenario ./cmd/rdpbroker/

demo: build
	$(BIN)/rdpbroker demo --listen $(DEMO_LISTEN)

# fuzz: every fuzz target for FUZZTIME each (make fuzz FUZZTIME=10m). -timeout 0:
# go test's default 10m timeout would end a 10m fuzz run as a failure.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -timeout 0 -parallel 1 $$pkg; \
	  done; done

# bench: rdpbroker vs HAProxy 2.6 (best and seed configs) vs a direct connection, in one run (~25 min),
# report written to docs/benchmarks.md, rdpbroker's CPU profiles under the
# connection-rate load to $(BIN)/profiles. A quick subset while developing:
#   make bench BENCHFLAGS="-only connrate,bulk -duration 2s -repeat 1" BENCHOUT=
BENCHFLAGS ?=
BENCHOUT ?= docs/benchmarks.md
bench: build
	scripts/install-bench-deps.sh
	$(GO) run ./cmd/rdpbench -broker $(BIN)/rdpbroker -profile $(BIN)/profiles $(if $(BENCHOUT),-out $(BENCHOUT)) $(BENCHFLAGS)
	@echo "== affinity table and directory index (docs/benchmarks.md has the goals)"
	$(GO) test -run '^$$' -bench 'Lookup|PlacePersisted|ReplicationDelay|IndexResolve' ./affinity ./directory
	@echo "== 1M-entry restart load and a 100k-user / 1k-group directory sync on slapd"
	$(GO) test -run '^$$' -bench 'RestartLoad1M|SyncLargeDirectory' -benchtime 1x -timeout 20m ./affinity ./directory

clean:
	rm -rf $(BIN)

# deb, rpm: versioned amd64 packages in $(PKGOUT) (rdpbroker_VERSION-1_amd64.deb,
# rdpbroker-VERSION-1.x86_64.rpm) built by nfpm from packaging/nfpm.yaml; the
# binary static (CGO_ENABLED=0, static-pie) with -X main.version. VERSION comes
# from the newest vX.Y.Z tag (1.2.3, or 1.2.3+4.gHASH past it), else
# 0.0~gitDATE.HASH; `make deb VERSION=1.2.3` sets it. PKG_CONFIG is the default
# configuration packaged as /etc/rdpbroker/rdpbroker.yaml (the package test
# builds a newer version with a changed one). packaging/README.md has the rest.
PKGOUT ?= $(BIN)
PKGBUILD ?= $(BIN)/pkgbuild
PKG_RELEASE ?= 1
PKG_CONFIG ?= packaging/rdpbroker.yaml
NFPM ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
VERSION ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null) && \
	echo "$$v" | sed -e 's/^v//' -e 's/-\([0-9]*\)-g/+\1.g/' || \
	git log -1 --date=format:%Y%m%d%H%M%S --format='0.0~git%cd.%h' 2>/dev/null || echo 0.0~dev)

pkg-stage:
	@case "$(VERSION)" in [0-9]*) ;; *) echo "VERSION=$(VERSION): must start with a digit" >&2; exit 1;; esac
	rm -rf $(PKGBUILD) && mkdir -p $(PKGBUILD) $(PKGOUT)
	CGO_ENABLED=0 $(GO) build -trimpath -buildmode=pie \
	  -ldflags "-s -w -X main.version=$(VERSION)-$(PKG_RELEASE)" -o $(PKGBUILD)/rdpbroker ./cmd/rdpbroker
	gzip -9n <packaging/rdpbroker.8 >$(PKGBUILD)/rdpbroker.8.gz
	cp $(PKG_CONFIG) $(PKGBUILD)/rdpbroker.yaml

deb rpm: pkg-stage
	VERSION=$(VERSION) PKG_RELEASE=$(PKG_RELEASE) PKGBUILD=$(abspath $(PKGBUILD)) \
	  $(NFPM) pkg -f packaging/nfpm.yaml -p $@ -t $(PKGOUT)
